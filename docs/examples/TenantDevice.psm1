<#
    A runbook as an operator writes one: make sure a tenant's vDPA device exists and is bound to vhost_vdpa, and
    give back the /dev/vhost-vdpa-N to hand to the tenant's VM. Its Pester test, TenantDevice.Tests.ps1, runs it
    without a vDPA kernel (see "Testing a runbook without a vDPA kernel" in about_VdpaPS).
#>
#Requires -Modules VdpaPS

function Confirm-TenantDevice {
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Parent,
        [Parameter(Mandatory)] [string] $MacAddress,
        [int] $TimeoutSec = 30
    )

    $device = Get-VdpaDevice -Name $Name -ErrorAction SilentlyContinue -ErrorVariable lookup
    if (-not $device) {
        # Only "no such device" means create it; anything else (no vdpa module, no permission) is this runbook's failure.
        # The error id is what comes before the comma (after it, the command that wrote it).
        if ($lookup | Where-Object { ($_.FullyQualifiedErrorId -split ',')[0] -ne 'VdpaDeviceNotFound' }) { throw $lookup[0] }
        if (-not $PSCmdlet.ShouldProcess("vDPA device '$Name' on $Parent", 'Create, bound to vhost_vdpa')) { return }
        $device = New-VdpaDevice -Name $Name -Parent $Parent -MacAddress $MacAddress -Driver vhost_vdpa -ErrorAction Stop
    } elseif ($device.Driver -ne 'vhost_vdpa') {
        if (-not $PSCmdlet.ShouldProcess("vDPA device '$Name' (bound to $($device.Driver ?? 'nothing'))", 'Bind to vhost_vdpa')) { return }
        $device = $device | Set-VdpaDevice -Driver vhost_vdpa -PassThru -ErrorAction Stop
    }

    # The char device appears after the binding: wait for it, bounded.
    ($device | Wait-VdpaDevice -Driver vhost_vdpa -TimeoutSec $TimeoutSec -ErrorAction Stop).VhostDevicePath
}

Export-ModuleMember -Function Confirm-TenantDevice

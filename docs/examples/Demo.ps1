<#
.SYNOPSIS
    A runbook walk-through of VdpaPS: parents, net and block devices, configuration, statistics, drivers.
.DESCRIPTION
    The README's main job: `dotnet pwsh ./build.ps1 demo` runs it as root in the lab kernel (vdpasim_net,
    vdpasim_blk and vduse, with virtio_vdpa and vhost_vdpa loaded and autoprobe off), where no vDPA hardware
    exists. On a host with vDPA hardware it runs the same against a real parent with -NetParent.
.EXAMPLE
    ./docs/examples/Demo.ps1 -ModulePath ./out/VdpaPS/0.1.0
#>
param(
    # The built module's folder; by default the module is imported by name.
    [string] $ModulePath,
    [string] $NetParent = 'vdpasim_net',
    [string] $BlockParent = 'vdpasim_blk'
)

$ErrorActionPreference = 'Stop'
if ($ModulePath) { Import-Module (Join-Path $ModulePath 'VdpaPS.psd1') } else { Import-Module VdpaPS }

function Show-Step([string] $Text, [string] $Command) {
    Write-Host ''
    Write-Host "## $Text" -ForegroundColor Cyan
    Write-Host "PS> $Command" -ForegroundColor DarkGray
}

$created = @()
try {
    Show-Step 'The parents (management devices) this kernel offers, with classes, queue limits and features' 'Get-VdpaParent'
    Get-VdpaParent | Out-Host

    Show-Step 'Create a net device on the simulator, with a MAC and an MTU, and bind it to virtio_vdpa in one step' `
        "Get-VdpaParent $NetParent | New-VdpaDevice -Name demo-net0 -MacAddress 02:00:00:de:00:01 -Mtu 9000 -Driver virtio_vdpa"
    $net = Get-VdpaParent $NetParent | New-VdpaDevice -Name demo-net0 -MacAddress 02:00:00:de:00:01 -Mtu 9000 -Driver virtio_vdpa
    $created += $net.Name
    $net | Out-Host

    Show-Step 'Create a block device and bind it to virtio_vdpa: it becomes a disk' "New-VdpaDevice -Name demo-blk0 -Parent $BlockParent -Driver virtio_vdpa"
    $blk = New-VdpaDevice -Name demo-blk0 -Parent $BlockParent -Driver virtio_vdpa
    $created += $blk.Name
    $blk | Format-List Name, Type, Parent, Driver, BlockDevice | Out-Host

    Show-Step 'What the devices became: driver, netdev, disk' 'Get-VdpaDevice demo-*'
    Get-VdpaDevice demo-* | Out-Host
    Write-Host "ip link shows $($net.NetworkInterface):" (& ip -br link show dev (Get-VdpaDevice demo-net0).NetworkInterface)

    Show-Step 'Their configuration, decoded (net and block), with device and negotiated features by name' 'Get-VdpaDeviceConfig demo-*'
    Get-VdpaDeviceConfig demo-* | Out-Host

    Show-Step 'Per-queue statistics of the net device: rx, tx and the control queue, labelled right' 'Get-VdpaDevice demo-net0 | Get-VdpaStats'
    Get-VdpaDevice demo-net0 | Get-VdpaStats | Out-Host

    Show-Step 'Give the device a new MAC address (the kernel''s DEV_ATTR_SET)' 'Set-VdpaDevice demo-net0 -MacAddress 02:00:00:de:00:02 -PassThru'
    Set-VdpaDevice demo-net0 -MacAddress 02:00:00:de:00:02 -PassThru | Format-List Name, MacAddress, Mtu, LinkUp | Out-Host

    Show-Step 'Hand the net device to a VM instead: rebind it to vhost_vdpa and get its char device' 'Set-VdpaDevice demo-net0 -Driver vhost_vdpa -PassThru'
    Set-VdpaDevice demo-net0 -Driver vhost_vdpa -PassThru | Format-List Name, Driver, VhostDevicePath | Out-Host

    Show-Step 'A mistake gets the kernel''s own words, with a stable error id' "New-VdpaDevice -Name demo-net0 -Parent $NetParent"
    New-VdpaDevice -Name demo-net0 -Parent $NetParent -ErrorAction SilentlyContinue -ErrorVariable mistake | Out-Null
    $mistake | ForEach-Object { "$($_.FullyQualifiedErrorId) [$($_.CategoryInfo.Category)]: $($_.Exception.Message)" } | Out-Host

    Show-Step 'Preview, then remove everything the demo made' 'Get-VdpaDevice demo-* | Remove-VdpaDevice -WhatIf; ... -Confirm:$false -PassThru'
    Get-VdpaDevice demo-* | Remove-VdpaDevice -WhatIf
    Get-VdpaDevice demo-* | Remove-VdpaDevice -Confirm:$false -PassThru | Out-Host
    $created = @()

    Show-Step 'Nothing is left' 'Get-VdpaDevice'
    @(Get-VdpaDevice).Count | Out-Host
} finally {
    # A failed step must not leave devices behind on a real host.
    foreach ($name in $created) { Remove-VdpaDevice -Name $name -Confirm:$false -ErrorAction SilentlyContinue }
}

<#
.SYNOPSIS
    A runbook walk-through of VdpaPS: parents, net and block devices, configuration, statistics, drivers, a
    device in use refused with its holder named, and a lost device brought back from an exported file.
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

    Show-Step 'A device in use is not pulled from under its user: a process holds its char device, so removal is refused, naming the holder' `
        'Remove-VdpaDevice demo-net0 -Confirm:$false'
    $vhost = (Get-VdpaDevice demo-net0).VhostDevicePath
    # bash opens the char device and execs sleep with it as stdin: the holder is `sleep`, as a VM's qemu would be.
    $holder = [System.Diagnostics.Process]::Start('bash', [string[]]@('-c', "exec sleep 120 < '$vhost'"))
    try {
        $deadline = [datetime]::UtcNow.AddSeconds(30)
        while (-not (Get-ChildItem "/proc/$($holder.Id)/fd" -ErrorAction SilentlyContinue | Where-Object LinkTarget -EQ $vhost)) {
            if ([datetime]::UtcNow -gt $deadline) { throw "sleep (pid $($holder.Id)) did not open $vhost in 30 s" }
            Start-Sleep -Milliseconds 50
        }
        Remove-VdpaDevice demo-net0 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable busy
        $busy | ForEach-Object { "$($_.FullyQualifiedErrorId) [$($_.CategoryInfo.Category)]: $($_.Exception.Message)" } | Out-Host
        Write-Host "Still there: $(@(Get-VdpaDevice demo-net0).Name)"
    } finally {
        $holder.Kill(); $holder.WaitForExit()
    }

    # Sync run as root uses only a file no other user can write, nor any folder above it: not /tmp.
    $folder = New-Item -ItemType Directory -Force (Join-Path $HOME "vdpaps-demo-$PID")
    chmod 700 $folder.FullName
    $file = Join-Path $folder.FullName 'devices.json'
    Show-Step 'Declare the host as it is: export its devices to a configuration file' "Export-VdpaConfiguration -Path $file"
    Export-VdpaConfiguration -Path $file
    Get-Content $file | Out-Host

    Show-Step 'Lose a device, then bring it back from the file (as the boot unit does): Compare says what differs, Sync converges' `
        "Remove-VdpaDevice demo-blk0 -Confirm:`$false; Compare-VdpaConfiguration $file; Sync-VdpaConfiguration $file -PassThru"
    Remove-VdpaDevice demo-blk0 -Confirm:$false
    Compare-VdpaConfiguration -Path $file | Out-Host
    Sync-VdpaConfiguration -Path $file -PassThru | Out-Host
    Show-Step 'The file and the host agree again' "Compare-VdpaConfiguration $file"
    "$(@(Compare-VdpaConfiguration -Path $file).Count) differences" | Out-Host
    Remove-Item -Recurse -Force $folder.FullName

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

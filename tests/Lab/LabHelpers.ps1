# Shared by the end-to-end tests in the lab kernel: iproute2's view of the same kernel state, cleanup
# that does not depend on the module under test, and the virtio_vdpa driver for tests that need a
# negotiated device. Dot-source it from a BeforeAll block.

$script:LabModRoot = $env:VDPAPS_LAB_MODROOT

function Import-VdpaModule {
    Import-Module (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1') -Force
}

function Invoke-IpVdpa {
    # iproute2's `vdpa -j ...` as a hashtable: its keys can end in spaces ("link "), which hashtables keep as they are.
    $text = & vdpa -j @args 2>&1
    $json = @($text | Where-Object { "$_".StartsWith('{') }) | Select-Object -First 1
    if (-not $json) { throw "vdpa -j $args printed no JSON: $text" }
    return $json | ConvertFrom-Json -AsHashtable
}

function Get-IpVdpaDeviceNames {
    return @((Invoke-IpVdpa dev show).dev.Keys)
}

function Get-LabDeviceNames {
    # The kernel's device list through the core netlink client (tested against iproute2 on its own): starting
    # `vdpa` from pwsh costs a second under emulation, so only the tests that compare with iproute2 run it.
    $client = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open()
    try { return @($client.GetDevices() | ForEach-Object Name) } finally { $client.Dispose() }
}

function Remove-LabDevice {
    # Cleanup that does not go through the cmdlets, so a broken Remove-VdpaDevice cannot leave devices behind.
    param([string[]] $Name)
    $client = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open()
    try {
        $existing = @($client.GetDevices() | ForEach-Object Name)
        foreach ($n in $Name) {
            foreach ($match in $existing | Where-Object { $_ -like $n }) {
                try { $client.DeleteDevice($match) | Out-Null } catch { Write-Warning "cleanup of $match failed: $_" }
            }
        }
    } finally { $client.Dispose() }
}

function ConvertTo-FeatureMask {
    # iproute2 prints net and transport names, and bit_N for any other bit.
    param([string[]] $Names)
    [uint64] $mask = 0
    foreach ($n in $Names) {
        $bit = 0
        if ($n -match '^bit_(\d+)$') { $bit = [int]$Matches[1] }
        elseif (-not [VdpaPS.VirtioFeatures]::TryGetBit($n, [VdpaPS.VirtioDeviceClass]::Net, [ref]$bit)) { throw "iproute2 printed the unknown feature name '$n'" }
        $mask = $mask -bor ([uint64]1 -shl $bit)
    }
    return $mask
}

function Invoke-LabModprobe {
    param([string] $Module, [switch] $Remove)
    $flags = if ($Remove) { @('-r') } else { @() }
    & modprobe -C /dev/null -d $script:LabModRoot @flags $Module 2>&1 | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "modprobe $flags $Module failed" }
}

function Enable-LabVirtioDriver {
    # Loads virtio_vdpa (and the virtio net and block drivers) with autoprobe off, so only the devices a test binds
    # get a driver: a VDUSE device that nobody serves would otherwise block its creation for the 30 s message timeout.
    $script:SavedAutoProbe = (Get-Content /sys/bus/vdpa/drivers_autoprobe -Raw).Trim()
    Set-Content /sys/bus/vdpa/drivers_autoprobe 0
    Invoke-LabModprobe virtio_vdpa
    Invoke-LabModprobe virtio_net
    Invoke-LabModprobe virtio_blk
}

function Disable-LabVirtioDriver {
    # A driver stays in use for a moment after its last device went (netdevs are freed after an RCU grace
    # period), so removal is retried briefly; a module left loaded is a warning, not a failed test file.
    foreach ($m in 'virtio_net', 'virtio_blk', 'virtio_vdpa') {
        for ($try = 1; $try -le 20; $try++) {
            $out = & modprobe -C /dev/null -d $script:LabModRoot -r $m 2>&1
            if ($LASTEXITCODE -eq 0) { break }
            if ($try -eq 20) { Write-Warning "modprobe -r $m failed: $out" } else { Start-Sleep -Milliseconds 250 }
        }
    }
    if ($script:SavedAutoProbe) { Set-Content /sys/bus/vdpa/drivers_autoprobe $script:SavedAutoProbe }
}

function Connect-LabVirtioDriver {
    # Binding makes the virtio driver negotiate features, which statistics and negotiated features need.
    param([string] $Name)
    [System.IO.File]::WriteAllText('/sys/bus/vdpa/drivers/virtio_vdpa/bind', $Name)
}

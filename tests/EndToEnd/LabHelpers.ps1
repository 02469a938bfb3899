# Shared by the end-to-end tests in the lab kernel: iproute2's view of the same kernel state, cleanup
# that does not depend on the module under test, and the virtio_vdpa driver for tests that need a
# negotiated device. Dot-source it from a BeforeAll block.

$script:LabModRoot = $env:VDPAPS_LAB_MODROOT
. (Join-Path $PSScriptRoot '../tools/VdpaInternals.ps1')

function Import-VdpaModule {
    # Once per process: Pester runs every file in one session, and -Force would rebuild the session's format table
    # (Pester's and the module's views) for each file, seconds under emulation.
    Import-Module (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1')
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
    $client = Open-VdpaCoreClient
    try { return @($client.GetDevices() | ForEach-Object Name) } finally { $client.Dispose() }
}

function Remove-LabDevice {
    # Cleanup that does not go through the cmdlets, so a broken Remove-VdpaDevice cannot leave devices behind.
    # A device that cannot be removed, or is still there afterwards, is an error: the block that made it fails.
    param([string[]] $Name)
    $client = Open-VdpaCoreClient
    try {
        $failures = [ordered]@{}
        $existing = @($client.GetDevices() | ForEach-Object Name)
        foreach ($n in $Name) {
            foreach ($match in $existing | Where-Object { $_ -like $n }) {
                try { $client.DeleteDevice($match) | Out-Null } catch { $failures[$match] = $_.Exception.Message }
            }
        }
        foreach ($still in @($client.GetDevices() | ForEach-Object Name)) {
            if (@($Name | Where-Object { $still -like $_ }).Count -gt 0 -and -not $failures.Contains($still)) { $failures[$still] = 'still listed after removal' }
        }
        if ($failures.Count -gt 0) { throw "Cleanup failed: $(@($failures.Keys | ForEach-Object { "$_ ($($failures[$_]))" }) -join '; ')" }
    } finally { $client.Dispose() }
}

function Wait-LabCondition {
    # Waits for a condition the kernel reaches asynchronously (a driver's probe, a netdev appearing), polling
    # up to a bound; fails with what it waited for instead of reading the state once.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [Parameter(Mandatory)] [string] $What, [int] $TimeoutSec = 20)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out after $TimeoutSec s waiting for $What." }
        Start-Sleep -Milliseconds 100
    }
}

# Feature bit numbers from the kernel's uapi headers (linux/virtio_net.h, linux/virtio_config.h,
# linux/virtio_ring.h), named as iproute2 names them: the tests' own table, not the module's.
$script:VirtioNetFeatureBits = @{
    CSUM = 0; GUEST_CSUM = 1; CTRL_GUEST_OFFLOADS = 2; MTU = 3; MAC = 5; GUEST_TSO4 = 7; GUEST_TSO6 = 8
    GUEST_ECN = 9; GUEST_UFO = 10; HOST_TSO4 = 11; HOST_TSO6 = 12; HOST_ECN = 13; HOST_UFO = 14; MRG_RXBUF = 15
    STATUS = 16; CTRL_VQ = 17; CTRL_RX = 18; CTRL_VLAN = 19; CTRL_RX_EXTRA = 20; GUEST_ANNOUNCE = 21; MQ = 22
    CTRL_MAC_ADDR = 23; HASH_REPORT = 57; RSS = 60; RSC_EXT = 61; STANDBY = 62; SPEED_DUPLEX = 63
    NOTIFY_ON_EMPTY = 24; ANY_LAYOUT = 27; RING_INDIRECT_DESC = 28; RING_EVENT_IDX = 29; VERSION_1 = 32
    ACCESS_PLATFORM = 33; RING_PACKED = 34; IN_ORDER = 35; ORDER_PLATFORM = 36; SR_IOV = 37; NOTIFICATION_DATA = 38
}

function ConvertTo-FeatureMask {
    # iproute2 prints net and transport names; a bit it has no name for comes as its number in JSON (40 on a
    # virtio-pci function, every class bit of a block parent) and as bit_N in text. The names come from the table above.
    param([string[]] $Names)
    [uint64] $mask = 0
    foreach ($n in $Names) {
        if ($n -match '^(?:bit_)?(\d+)$') { $bit = [int]$Matches[1] }
        elseif ($script:VirtioNetFeatureBits.ContainsKey($n)) { $bit = $script:VirtioNetFeatureBits[$n] }
        else { throw "iproute2 printed the feature name '$n', which the tests' uapi table lacks" }
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
    $script:SavedAutoProbe = (Get-Content /sys/bus/vdpa/drivers_autoprobe -Raw -ErrorAction Stop).Trim()
    # What the boot loaded stays loaded afterwards: with -m sriov, virtio_net drives the PFs, which without it cannot make VFs.
    $script:VirtioLoadedBefore = @('virtio_vdpa', 'virtio_net', 'virtio_blk' | Where-Object { Test-Path "/sys/module/$_" })
    Set-Content /sys/bus/vdpa/drivers_autoprobe 0 -ErrorAction Stop
    Invoke-LabModprobe virtio_vdpa
    Invoke-LabModprobe virtio_net
    Invoke-LabModprobe virtio_blk
}

function Remove-LabModule {
    # A driver stays in use for a moment after its last device went (netdevs are freed after an RCU grace
    # period), so removal is retried for up to 10 s; a module still loaded after that is an error with modprobe's words.
    param([Parameter(Mandatory)] [string] $Module)
    for ($try = 1; $try -le 40; $try++) {
        $out = & modprobe -C /dev/null -d $script:LabModRoot -r $Module 2>&1
        if ($LASTEXITCODE -eq 0) { return }
        Start-Sleep -Milliseconds 250
    }
    $users = if (Test-Path "/sys/module/$Module/refcnt") { " (refcnt $(Get-Content "/sys/module/$Module/refcnt"))" }
    throw "modprobe -r $Module failed for 10 s$($users): $out"
}

function Disable-LabVirtioDriver {
    # Every module is tried and autoprobe restored even when one fails; the first failure is thrown at the end.
    $failed = $null
    foreach ($m in 'virtio_net', 'virtio_blk', 'virtio_vdpa' | Where-Object { $_ -notin $script:VirtioLoadedBefore }) {
        try { Remove-LabModule $m } catch { $failed ??= $_ }
    }
    if ($script:SavedAutoProbe) { Set-Content /sys/bus/vdpa/drivers_autoprobe $script:SavedAutoProbe -ErrorAction Stop }
    if ($failed) { throw $failed }
}

function Connect-LabVirtioDriver {
    # Binding makes the virtio driver negotiate features, which statistics and negotiated features need.
    param([string] $Name)
    [System.IO.File]::WriteAllText('/sys/bus/vdpa/drivers/virtio_vdpa/bind', $Name)
    Wait-LabCondition { Test-Path "/sys/bus/vdpa/drivers/virtio_vdpa/$Name" } "virtio_vdpa to bind $Name"
}

function Get-LabUeventListenerCount {
    # Sockets subscribed to the kernel's uevents (/proc/net/netlink: protocol 15, groups 00000001): how a test
    # knows a Wait or Watch cmdlet has subscribed before another process changes anything.
    return @(Get-Content /proc/net/netlink | Where-Object { ($_ -split '\s+')[1] -eq '15' -and ($_ -split '\s+')[3] -eq '00000001' }).Count
}

function Start-LabShell {
    # Runs a bash script in another process (not this pwsh), with the lab's modprobe as `mp`. With -AfterSubscribe
    # it first waits (up to 60 s, else exit 90) until one more uevent listener than now is there, so what the
    # script does happens while the cmdlet under test waits. Returns the process; Wait-LabShell collects it.
    param([Parameter(Mandatory)] [string] $Script, [switch] $AfterSubscribe)
    $prelude = "mp() { modprobe -C /dev/null -d '$script:LabModRoot' `"`$@`"; }`n"
    if ($AfterSubscribe) {
        $base = Get-LabUeventListenerCount
        $prelude += "n=0; until [ `$(awk '`$2 == 15 && `$4 == `"00000001`"' /proc/net/netlink | wc -l) -gt $base ]; do " +
            "n=`$((n + 1)); [ `$n -gt 1200 ] && exit 90; sleep 0.05; done`n"
    }
    $info = [System.Diagnostics.ProcessStartInfo]::new('bash')
    $info.ArgumentList.Add('-c')
    $info.ArgumentList.Add($prelude + "set -e`n" + $Script)
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    return [System.Diagnostics.Process]::Start($info)
}

function Wait-LabShell {
    # The script's end, bounded; a script that failed or did not end is an error with its output.
    param([Parameter(Mandatory)] [System.Diagnostics.Process] $Process, [int] $TimeoutSec = 60)
    if (-not $Process.WaitForExit($TimeoutSec * 1000)) {
        $Process.Kill($true)
        throw "The background script did not end within $TimeoutSec s."
    }
    $output = $Process.StandardOutput.ReadToEnd() + $Process.StandardError.ReadToEnd()
    if ($Process.ExitCode -ne 0) { throw "The background script exited $($Process.ExitCode): $output" }
}

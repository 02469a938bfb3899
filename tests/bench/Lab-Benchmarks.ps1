#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The lab half of the benchmarks: run as root inside the lab kernel (modules vduse,sim) by Invoke-Benchmarks.ps1.

.DESCRIPTION
    In one pwsh, against the vdpa simulator:
      per call  Get-VdpaDevice -Name x, against vdpa -j dev show x | ConvertFrom-Json (the same number of calls each)
      scale     devices created with New-VdpaDevice up to each count of -Scale (1, 64, 256, 1024); at each, the listing
                with Get-VdpaDevice against the raw netlink dump (VdpaClient.GetDevices() from the module's own
                assembly), and from 256 up against the C tool alone and the C tool + ConvertFrom-Json; the time and the
                managed memory one listing takes per device; then Remove-VdpaDevice
      create/remove  -CompareDevices devices: New-VdpaDevice (one call per device, and one call for all the names) and
                Remove-VdpaDevice against bash loops of vdpa dev add /
                vdpa dev del and against the core alone (VdpaClient.CreateDevice / DeleteDevice), each from no devices
    Writes every figure (milliseconds) to -OutputFile as JSON and prints them.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputFile,
    [int] $Calls = 200,
    # The device counts the listing is measured at, in rising order (devices are added between them); a comma list,
    # because pwsh -File passes every argument as a string.
    [string] $Scale = '1,64,256,1024',
    # Listing is measured this many times per method; the median is reported. Fewer rounds at 1024 and more devices,
    # where `vdpa -j dev show | ConvertFrom-Json` alone takes seconds under emulation.
    [int] $ListRuns = 10,
    [int] $ListRunsLargest = 5,
    # Creating and removing are compared on this many devices, starting from none (the kernel looks a name up among
    # the devices there are, so every path is timed over the same counts).
    [int] $CompareDevices = 256
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$Parent = 'vdpasim_net'
# Get-Median: shared with build.ps1 and Invoke-Benchmarks.ps1 (the guest sees the repository at the same path).
Import-Module (Join-Path $PSScriptRoot '../tools/BuildCommon.psm1') -Force

function Measure-Ms([scriptblock] $Block) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $null = & $Block
    $watch.Stop()
    return $watch.Elapsed.TotalMilliseconds
}

# Timed inside bash, so neither pwsh's process start nor its output capture is counted: the C tool as a shell script
# runs it. EPOCHREALTIME is a bash variable: reading it starts no process, where $(date) would start two.
function Measure-BashMs([string] $Script) {
    $times = bash -c "s=`$EPOCHREALTIME; $Script; e=`$EPOCHREALTIME; echo `"`$s `$e`""
    if ($LASTEXITCODE -ne 0) { throw "bash failed ($LASTEXITCODE): $Script" }
    $start, $end = ($times | Select-Object -Last 1).Split(' ') | ForEach-Object { [double]::Parse($_, [cultureinfo]::InvariantCulture) }
    return ($end - $start) * 1000
}

# The core's types are internal to the module (InternalsVisibleTo): reached through reflection on the module's
# assembly. PowerShell calls public methods of an instance of an internal type, and static ones through the Type.
function Get-CoreType([string] $Name) {
    $assembly = [VdpaPS.VdpaDevice].Assembly
    foreach ($namespace in 'VdpaPS.Netlink.Vdpa', 'VdpaPS.Netlink.Host', 'VdpaPS') {
        $type = $assembly.GetType("$namespace.$Name")
        if ($type) { return $type }
    }
    throw "The module's core has no type $Name."
}

function Write-Figure([string] $Name, [double] $Ms, [string] $Note = '') {
    Write-Host ('  {0,-58} {1,12:N3} ms {2}' -f $Name, $Ms, $Note)
}

$result = [ordered]@{
    Kernel = (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
    GuestCpus = [Environment]::ProcessorCount
    PowerShell = $PSVersionTable.PSVersion.ToString()
    Iproute2 = ((vdpa -V 2>&1) -join ' ').Trim()
    Calls = $Calls
    ListRuns = $ListRuns
}

$watch = [Diagnostics.Stopwatch]::StartNew()
Import-Module (Join-Path $ModulePath 'VdpaPS.psd1')
$result.ImportMs = $watch.Elapsed.TotalMilliseconds
$ClientType = Get-CoreType VdpaClient
$SpecType = Get-CoreType VdpaDeviceSpec
$SysfsType = Get-CoreType VdpaSysfs
Write-Host "lab bench: kernel $($result.Kernel), $($result.GuestCpus) guest CPUs, pwsh $($result.PowerShell), $($result.Iproute2)"
Write-Figure 'Import-Module VdpaPS (in the guest, in-process)' $result.ImportMs

# ------------------------------------------------------------------------------------------------ per call
$null = New-VdpaDevice -Name x -Parent $Parent
# Every path warmed the same way, so none pays its first-call JIT (seconds under emulation) in the measured loop.
for ($i = 0; $i -lt 5; $i++) {
    $null = Get-VdpaDevice -Name x
    $null = vdpa -j dev show x | ConvertFrom-Json
    $null = vdpa -j dev show x
    $c = $ClientType::Open(); $null = $c.GetDevice('x'); $c.Dispose()
}
$check = vdpa -j dev show x | ConvertFrom-Json
if ($check.dev.x.mgmtdev -ne $Parent -or (Get-VdpaDevice -Name x).Parent -ne $Parent) { throw 'The per-call paths do not see device x on the simulator.' }

# The paths take turns in blocks, so a change in the host's load (the guest's CPUs are emulated threads on shared
# cores) falls on all of them alike; each still makes $Calls calls in this one run.
$blocks = 10
$perBlock = [int][Math]::Ceiling($Calls / $blocks)
$Calls = $perBlock * $blocks
$result.Calls = $Calls
$perCall = [ordered]@{
    PerCallCmdletMs = { for ($i = 0; $i -lt $perBlock; $i++) { $null = Get-VdpaDevice -Name x } }
    PerCallIproute2JsonMs = { for ($i = 0; $i -lt $perBlock; $i++) { $null = vdpa -j dev show x | ConvertFrom-Json } }
    # The same C tool from pwsh without the JSON conversion, and from bash: where the iproute2 path's time goes.
    PerCallIproute2FromPwshMs = { for ($i = 0; $i -lt $perBlock; $i++) { $null = vdpa -j dev show x } }
    PerCallIproute2BashMs = { Measure-BashMs "for ((i = 0; i < $perBlock; i++)); do vdpa -j dev show x > /dev/null; done" }
    # The netlink part of the cmdlet: open a socket, DEV_GET, decode, close (the family id is cached per process, as in the cmdlet).
    PerCallCoreMs = { for ($i = 0; $i -lt $perBlock; $i++) { $c = $ClientType::Open(); $null = $c.GetDevice('x'); $c.Dispose() } }
    # Of which the socket: open (with the cached family) and close, no request.
    PerCallOpenCloseMs = { for ($i = 0; $i -lt $perBlock; $i++) { $c = $ClientType::Open(); $c.Dispose() } }
}
$blockTimes = [ordered]@{}
foreach ($key in $perCall.Keys) { $blockTimes[$key] = [Collections.Generic.List[double]]::new() }
for ($b = 0; $b -lt $blocks; $b++) {
    foreach ($key in $perCall.Keys) {
        # The bash path reports the time bash measured; the others are timed here.
        $ms = if ($key -eq 'PerCallIproute2BashMs') { & $perCall[$key] } else { Measure-Ms $perCall[$key] }
        $blockTimes[$key].Add($ms / $perBlock)
    }
}
foreach ($key in $perCall.Keys) { $result[$key] = ($blockTimes[$key] | Measure-Object -Sum).Sum / $blocks }
# Per block as well, to tell a steady cost from a first-blocks one (JIT tiering, which emulation makes slow).
$result.PerCallBlocks = $blockTimes
$result.PerCallRatio = $result.PerCallIproute2JsonMs / $result.PerCallCmdletMs
Write-Host "per call ($Calls calls each):"
Write-Figure 'Get-VdpaDevice -Name x' $result.PerCallCmdletMs
Write-Figure 'vdpa -j dev show x | ConvertFrom-Json' $result.PerCallIproute2JsonMs ('ratio {0:N1}x' -f $result.PerCallRatio)
Write-Figure 'vdpa -j dev show x (from pwsh, no JSON)' $result.PerCallIproute2FromPwshMs
Write-Figure 'vdpa -j dev show x (bash loop)' $result.PerCallIproute2BashMs
Write-Figure 'VdpaClient Open + GetDevice + Dispose (core alone)' $result.PerCallCoreMs
Write-Figure 'VdpaClient Open + Dispose (the socket alone)' $result.PerCallOpenCloseMs
Remove-VdpaDevice -Name x -Confirm:$false

# ------------------------------------------------------------------------------------------------ scale
function Get-MemAvailableKb { [long](((Get-Content /proc/meminfo | Where-Object { $_ -like 'MemAvailable:*' }) -split '\s+')[1]) }

# Managed memory one call allocates on this thread (the pipeline runs on it): the least of three calls, after one.
function Measure-Allocated([scriptblock] $Block) {
    $null = & $Block
    $least = [long]::MaxValue
    for ($i = 0; $i -lt 3; $i++) {
        $before = [GC]::GetAllocatedBytesForCurrentThread()
        $null = & $Block
        $least = [Math]::Min($least, [GC]::GetAllocatedBytesForCurrentThread() - $before)
    }
    return $least
}

# The first $CompareDevices devices are ba000...; the ones above, bb0256...: removed apart, so each removal starts at the
# count the bash loops start at.
function Get-ScaleName([int] $Index) { if ($Index -lt $CompareDevices) { 'ba{0:D3}' -f $Index } else { 'bb{0:D4}' -f $Index } }

$counts = @($Scale.Split(',') | ForEach-Object { [int]$_ })
$sysfs = $SysfsType::Default
$result.MemAvailableBeforeKb = Get-MemAvailableKb
$result.Requested = $counts[-1]
$result.CreateError = $null
$steps = [Collections.Generic.List[object]]::new()
$created = 0
$createdMs = 0.0
foreach ($count in $counts) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        while ($created -lt $count) {
            $null = New-VdpaDevice -Name (Get-ScaleName $created) -Parent $Parent
            $created++
            # The time to the comparison's count, for New-VdpaDevice's figure over the same counts as vdpa dev add.
            if ($created -eq $CompareDevices) { $result.CreateCmdletMs = $createdMs + $watch.Elapsed.TotalMilliseconds }
        }
    } catch {
        # The simulator or the kernel refused one: how many it took is the finding.
        $result.CreateError = "$_"
    }
    $createdMs += $watch.Elapsed.TotalMilliseconds
    if ($result.CreateError) { Write-Host "scale: creation stopped at $created devices: $($result.CreateError)"; break }
    $listed = @(Get-VdpaDevice)
    if ($listed.Count -ne $created) { throw "Get-VdpaDevice lists $($listed.Count) devices, $created were created." }

    $full = $count -ge $CompareDevices
    $rounds = if ($count -gt $CompareDevices) { $ListRunsLargest } else { $ListRuns }
    $client = $ClientType::Open(); $dumped = $client.GetDevices(); $client.Dispose()
    $listing = [ordered]@{
        ListCmdletMs = { $null = Get-VdpaDevice }
        # The floor: the dump alone, through the module's own core, with a socket of its own each time as the cmdlet has.
        ListFloorMs = { $c = $ClientType::Open(); $null = $c.GetDevices(); $c.Dispose() }
    }
    if ($full) {
        $json = vdpa -j dev show | ConvertFrom-Json
        if (@($json.dev.PSObject.Properties).Count -ne $created) { throw "vdpa -j dev show lists another number of devices than $created." }
        $listing.ListIproute2BashMs = { Measure-BashMs 'vdpa -j dev show > /dev/null' }
        $listing.ListIproute2JsonMs = { $null = vdpa -j dev show | ConvertFrom-Json }
        $listing.ListIproute2FromPwshMs = { $null = vdpa -j dev show }
        # To take the cmdlet apart: the same dump filtered to nothing (no sysfs, no output); sysfs for every device as
        # the cmdlet reads it (one listing's view, from a pwsh loop, so with pwsh's cost per call); the devices through a pipeline.
        $listing.ListCmdletNoMatchMs = { $null = Get-VdpaDevice -Name 'none*' }
        $listing.ListSysfsMs = { $view = $sysfs.StartListing(); foreach ($d in $dumped) { $null = $view.Describe($d) } }
        $listing.ListPipelineMs = { $null = $dumped | Write-Output }
    }
    # Taking turns: one run of each method per round, after one untimed round.
    $samples = [ordered]@{}
    foreach ($key in $listing.Keys) { $samples[$key] = [Collections.Generic.List[double]]::new() }
    for ($r = -1; $r -lt $rounds; $r++) {
        foreach ($key in $listing.Keys) {
            $ms = if ($key -eq 'ListIproute2BashMs') { & $listing[$key] } else { Measure-Ms $listing[$key] }
            if ($r -ge 0) { $samples[$key].Add($ms) }
        }
    }
    $step = [ordered]@{ Devices = $created; Rounds = $rounds }
    foreach ($key in $listing.Keys) { $step[$key] = Get-Median $samples[$key] }
    $step.ListCmdletAllocatedBytes = Measure-Allocated { Get-VdpaDevice }
    $step.ListFloorAllocatedBytes = Measure-Allocated { $c = $ClientType::Open(); $c.GetDevices(); $c.Dispose() }
    $step.MemAvailableKb = Get-MemAvailableKb
    $step.ListSamples = $samples
    $steps.Add([pscustomobject]$step)
    Write-Host "scale: $created devices ($rounds rounds):"
    Write-Figure 'Get-VdpaDevice' $step.ListCmdletMs ('{0:N1} µs and {1:N0} B a device' -f ($step.ListCmdletMs * 1000 / $created), ($step.ListCmdletAllocatedBytes / $created))
    Write-Figure 'floor: VdpaClient Open + GetDevices + Dispose' $step.ListFloorMs ('cmdlet / floor {0:N2}x; {1:N0} B a device' -f ($step.ListCmdletMs / $step.ListFloorMs), ($step.ListFloorAllocatedBytes / $created))
    if ($full) {
        Write-Figure 'vdpa -j dev show (timed in bash)' $step.ListIproute2BashMs ('cmdlet / C tool {0:N2}x' -f ($step.ListCmdletMs / $step.ListIproute2BashMs))
        Write-Figure 'vdpa -j dev show | ConvertFrom-Json' $step.ListIproute2JsonMs
        Write-Figure 'vdpa -j dev show (from pwsh, no JSON)' $step.ListIproute2FromPwshMs
        Write-Figure "Get-VdpaDevice 'none*' (the dump filtered to nothing)" $step.ListCmdletNoMatchMs
        Write-Figure 'sysfs: one listing''s Describe on every device (pwsh loop)' $step.ListSysfsMs
        Write-Figure 'pipeline: the devices through Write-Output' $step.ListPipelineMs
    }
    Write-Figure 'MemAvailable in the guest' ($step.MemAvailableKb / 1024) ('MiB (before any device: {0:N0} MiB)' -f ($result.MemAvailableBeforeKb / 1024))
}
$result.Scale = $steps
$result.Created = $created
$result.CreateAllMs = $createdMs
Write-Figure "New-VdpaDevice x $created, in all" $createdMs ('{0:N2} ms per device' -f ($createdMs / [Math]::Max($created, 1)))

# Removing: the devices above the comparison's count first, then the comparison's own, timed from that count down.
if ($created -gt $CompareDevices) { Get-VdpaDevice 'bb*' | Remove-VdpaDevice -Confirm:$false }
$compare = [Math]::Min($created, $CompareDevices)
$result.CompareDevices = $compare
$watch = [Diagnostics.Stopwatch]::StartNew()
Get-VdpaDevice 'ba*' | Remove-VdpaDevice -Confirm:$false
$result.RemoveCmdletMs = $watch.Elapsed.TotalMilliseconds
if (@(Get-VdpaDevice).Count -ne 0) { throw 'Devices are left after Remove-VdpaDevice.' }
if ($compare -lt $CompareDevices) { $result.CreateCmdletMs = $null }
Write-Figure "New-VdpaDevice x $compare (from none)" ([double]$result.CreateCmdletMs) ('{0:N2} ms per device' -f ($result.CreateCmdletMs / [Math]::Max($compare, 1)))
Write-Figure "Get-VdpaDevice 'ba*' | Remove-VdpaDevice -Confirm:`$false x $compare" $result.RemoveCmdletMs ('{0:N2} ms per device' -f ($result.RemoveCmdletMs / [Math]::Max($compare, 1)))

# The kernel's own share: the same creations and removals through the core alone, one socket for all, no sysfs.
$client = $ClientType::Open()
$specs = @(for ($i = 0; $i -lt $compare; $i++) {
        $spec = [Activator]::CreateInstance($SpecType, $true)
        $SpecType.GetProperty('Name').SetValue($spec, "bc$i")
        $SpecType.GetProperty('Parent').SetValue($spec, $Parent)
        $spec
    })
$result.CreateCoreMs = Measure-Ms { foreach ($spec in $specs) { $null = $client.CreateDevice($spec) } }
$result.RemoveCoreMs = Measure-Ms { for ($i = 0; $i -lt $compare; $i++) { $null = $client.DeleteDevice("bc$i") } }
$client.Dispose()
Write-Figure "core: VdpaClient.CreateDevice x $compare" $result.CreateCoreMs
Write-Figure "core: VdpaClient.DeleteDevice x $compare" $result.RemoveCoreMs

# New-VdpaDevice given all the names in one call, as a script that creates many devices can: the command's own cost
# (pwsh's per-command work, the parent's lookup) is paid once, each device then costs its DEV_NEW, read-back and sysfs.
$names = [string[]]@(for ($i = 0; $i -lt $compare; $i++) { "bn$i" })
$result.CreateBatchMs = Measure-Ms { New-VdpaDevice -Name $names -Parent $Parent -ErrorAction Stop }
if (@(Get-VdpaDevice 'bn*').Count -ne $compare) { throw "New-VdpaDevice -Name (${compare} names) did not create them all." }
Get-VdpaDevice 'bn*' | Remove-VdpaDevice -Confirm:$false
Write-Figure "New-VdpaDevice -Name <$compare names>, one call" $result.CreateBatchMs ('{0:N2} ms per device' -f ($result.CreateBatchMs / [Math]::Max($compare, 1)))

# The same with the C tool, one process per device as a shell script does it.
$result.CreateIproute2Ms = Measure-BashMs "for ((i = 0; i < $compare; i++)); do vdpa dev add name bx`$i mgmtdev $Parent || exit 1; done"
$result.RemoveIproute2Ms = Measure-BashMs "for ((i = 0; i < $compare; i++)); do vdpa dev del bx`$i || exit 1; done"
Write-Figure "bash loop: vdpa dev add x $compare" $result.CreateIproute2Ms
Write-Figure "bash loop: vdpa dev del x $compare" $result.RemoveIproute2Ms

$result | ConvertTo-Json -Depth 5 | Set-Content -Path $OutputFile
Write-Host "lab bench: figures written to $OutputFile"

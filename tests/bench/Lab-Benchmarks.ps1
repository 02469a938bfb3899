#!/usr/bin/env pwsh
<#
.SYNOPSIS
    The lab half of the benchmarks: run as root inside the lab kernel (modules vduse,sim) by Invoke-Benchmarks.ps1.

.DESCRIPTION
    In one pwsh, against the vdpa simulator:
      per call  Get-VdpaDevice -Name x, against vdpa -j dev show x | ConvertFrom-Json (the same number of calls each)
      scale     create -Devices devices with New-VdpaDevice; list them with Get-VdpaDevice, with the C tool alone,
                the C tool + ConvertFrom-Json, and the raw netlink dump (VdpaClient.GetDevices() from the module's own
                assembly); remove them with Remove-VdpaDevice; then the same creation and removal as a bash loop of
                vdpa dev add / vdpa dev del
    Writes every figure (milliseconds) to -OutputFile as JSON and prints them.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputFile,
    [int] $Calls = 200,
    [int] $Devices = 256,
    # Listing is measured this many times per method; the median is reported.
    [int] $ListRuns = 10
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
Write-Host "lab bench: kernel $($result.Kernel), $($result.GuestCpus) guest CPUs, pwsh $($result.PowerShell), $($result.Iproute2)"
Write-Figure 'Import-Module VdpaPS (in the guest, in-process)' $result.ImportMs

# ------------------------------------------------------------------------------------------------ per call
$null = New-VdpaDevice -Name x -Parent $Parent
# Every path warmed the same way, so none pays its first-call JIT (seconds under emulation) in the measured loop.
for ($i = 0; $i -lt 5; $i++) {
    $null = Get-VdpaDevice -Name x
    $null = vdpa -j dev show x | ConvertFrom-Json
    $null = vdpa -j dev show x
    $c = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open(); $null = $c.GetDevice('x'); $c.Dispose()
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
    PerCallCoreMs = { for ($i = 0; $i -lt $perBlock; $i++) { $c = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open(); $null = $c.GetDevice('x'); $c.Dispose() } }
    # Of which the socket: open (with the cached family) and close, no request.
    PerCallOpenCloseMs = { for ($i = 0; $i -lt $perBlock; $i++) { $c = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open(); $c.Dispose() } }
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
$names = @(for ($i = 0; $i -lt $Devices; $i++) { 'bn{0:D3}' -f $i })
$created = 0
$createError = $null
$watch = [Diagnostics.Stopwatch]::StartNew()
try {
    foreach ($n in $names) {
        $null = New-VdpaDevice -Name $n -Parent $Parent
        $created++
    }
} catch {
    # The simulator or the kernel refused one: how many it took is the finding.
    $createError = "$_"
}
$watch.Stop()
$result.Requested = $Devices
$result.Created = $created
$result.CreateError = $createError
$result.CreateCmdletMs = $watch.Elapsed.TotalMilliseconds
Write-Host "scale ($created of $Devices devices created on $Parent$(if ($createError) { ": stopped by: $createError" })):"
Write-Figure "New-VdpaDevice x $created" $result.CreateCmdletMs ('{0:N2} ms per device' -f ($result.CreateCmdletMs / [Math]::Max($created, 1)))

$count = @(Get-VdpaDevice).Count
if ($count -ne $created) { throw "Get-VdpaDevice lists $count devices, $created were created." }
$json = vdpa -j dev show | ConvertFrom-Json
if (@($json.dev.PSObject.Properties).Count -ne $created) { throw "vdpa -j dev show lists another number of devices than $created." }

# What the cmdlet adds to the dump: sysfs per device (driver, vhost device, parent path, NUMA node), and emitting each
# object down the pipeline (the same objects passed through a pipeline that only passes them on).
$client = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open()
$listed = $client.GetDevices()
$client.Dispose()
$sysfs = [VdpaPS.Netlink.Vdpa.VdpaSysfs]::Default
$listing = [ordered]@{
    ListCmdletMs = { $null = Get-VdpaDevice }
    # The cmdlet with the same dump filtered to nothing: no sysfs, no output, what one invocation costs besides.
    ListCmdletNoMatchMs = { $null = Get-VdpaDevice -Name 'none*' }
    ListIproute2BashMs = { Measure-BashMs 'vdpa -j dev show > /dev/null' }
    ListIproute2JsonMs = { $null = vdpa -j dev show | ConvertFrom-Json }
    ListIproute2FromPwshMs = { $null = vdpa -j dev show }
    # The floor: the dump alone, through the module's own core, with a socket of its own each time as the cmdlet has.
    ListFloorMs = { $c = [VdpaPS.Netlink.Vdpa.VdpaClient]::Open(); $null = $c.GetDevices(); $c.Dispose() }
    ListSysfsMs = { foreach ($d in $listed) { $sysfs.Describe($d) } }
    ListPipelineMs = { $null = $listed | Write-Output }
}
# Taking turns again: one run of each method per round, after one untimed round.
$samples = @{}
foreach ($key in $listing.Keys) { $samples[$key] = [Collections.Generic.List[double]]::new() }
for ($r = -1; $r -lt $ListRuns; $r++) {
    foreach ($key in $listing.Keys) {
        $ms = if ($key -eq 'ListIproute2BashMs') { & $listing[$key] } else { Measure-Ms $listing[$key] }
        if ($r -ge 0) { $samples[$key].Add($ms) }
    }
}
foreach ($key in $listing.Keys) { $result[$key] = Get-Median $samples[$key] }
$result.ListSamples = $samples
$result.ListCmdletOverFloor = $result.ListCmdletMs / $result.ListFloorMs
$result.ListCmdletOverIproute2 = $result.ListCmdletMs / $result.ListIproute2BashMs
Write-Figure "Get-VdpaDevice ($created devices, median of $ListRuns)" $result.ListCmdletMs
Write-Figure 'vdpa -j dev show (timed in bash)' $result.ListIproute2BashMs ('cmdlet / C tool {0:N2}x' -f $result.ListCmdletOverIproute2)
Write-Figure 'vdpa -j dev show | ConvertFrom-Json' $result.ListIproute2JsonMs
Write-Figure 'vdpa -j dev show (from pwsh, no JSON)' $result.ListIproute2FromPwshMs
Write-Figure 'floor: VdpaClient Open + GetDevices + Dispose' $result.ListFloorMs ('cmdlet / floor {0:N2}x' -f $result.ListCmdletOverFloor)
Write-Figure "Get-VdpaDevice 'none*' (the dump filtered to nothing)" $result.ListCmdletNoMatchMs
Write-Figure 'sysfs: VdpaSysfs.Describe on every device (pwsh loop)' $result.ListSysfsMs
Write-Figure 'pipeline: the devices through Write-Output' $result.ListPipelineMs

$watch = [Diagnostics.Stopwatch]::StartNew()
Get-VdpaDevice 'bn*' | Remove-VdpaDevice -Confirm:$false
$result.RemoveCmdletMs = $watch.Elapsed.TotalMilliseconds
if (@(Get-VdpaDevice).Count -ne 0) { throw 'Devices are left after Remove-VdpaDevice.' }
Write-Figure "Get-VdpaDevice 'bn*' | Remove-VdpaDevice -Confirm:`$false" $result.RemoveCmdletMs

# The same devices with the C tool, one process per device as a shell script does it.
$result.CreateIproute2Ms = Measure-BashMs "for ((i = 0; i < $created; i++)); do vdpa dev add name bx`$i mgmtdev $Parent || exit 1; done"
$result.RemoveIproute2Ms = Measure-BashMs "for ((i = 0; i < $created; i++)); do vdpa dev del bx`$i || exit 1; done"
Write-Figure "bash loop: vdpa dev add x $created" $result.CreateIproute2Ms
Write-Figure "bash loop: vdpa dev del x $created" $result.RemoveIproute2Ms

$result | ConvertTo-Json -Depth 4 | Set-Content -Path $OutputFile
Write-Host "lab bench: figures written to $OutputFile"

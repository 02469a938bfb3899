#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Times two speed tricks of VdpaPS against the plain way (issue 25): the session type table reached by reflection
    (against Update-TypeData, the plain way and the fallback), and EntryNames' readdir at a fixed dirent offset (against
    Directory.GetFileSystemEntries) on a directory of 1,024 symbolic links, as /sys/bus/vdpa/devices holds at 1,024
    devices, and on /proc. The third, VdpaReply's offsets and read masks, is BenchmarkDotNet's ReplyBenchmarks.
.EXAMPLE
    dotnet pwsh tests/bench/Measure-Tricks.ps1 -ModulePath out/VdpaPS/0.1.0
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [int] $Starts = 8,
    [int] $Rounds = 200
)
$ErrorActionPreference = 'Stop'
$module = (Resolve-Path (Join-Path $ModulePath 'VdpaPS.psd1')).Path
$pwsh = (Get-Process -Id $PID).Path
$entry = @(if ($pwsh -like '*dotnet') { 'pwsh' })
function Get-Median([double[]] $Values) { $s = $Values | Sort-Object; $s[[int][math]::Floor(($s.Count - 1) / 2)] }

# The type table: each way in fresh processes, interleaved, timed inside the process (ms).
$addType = @'
$t = [System.Management.Automation.Runspaces.TypeTable]
$ctx = [runspace]::DefaultRunspace.GetType().GetProperty('ExecutionContext', [Reflection.BindingFlags]'Instance, NonPublic').GetValue([runspace]::DefaultRunspace)
$sw = [Diagnostics.Stopwatch]::StartNew()
$table = $ctx.GetType().GetProperty('TypeTable', [Reflection.BindingFlags]'Instance, NonPublic').GetValue($ctx)
foreach ($n in 'VdpaPS.VdpaQueueStatistics', 'VdpaPS.VdpaCommonFeatures') { $d = [System.Management.Automation.Runspaces.TypeData]::new($n); $d.SerializationDepth = 2; $table.AddType($d) }
$sw.Elapsed.TotalMilliseconds
'@
$update = @'
$entries = foreach ($n in 'VdpaPS.VdpaQueueStatistics', 'VdpaPS.VdpaCommonFeatures') { $d = [System.Management.Automation.Runspaces.TypeData]::new($n); $d.SerializationDepth = 2; $d }
$sw = [Diagnostics.Stopwatch]::StartNew()
Update-TypeData -TypeData $entries -Force
$sw.Elapsed.TotalMilliseconds
'@
$times = @{ AddType = [System.Collections.Generic.List[double]]::new(); UpdateTypeData = [System.Collections.Generic.List[double]]::new() }
for ($i = 0; $i -lt $Starts; $i++) {
    $times.AddType.Add([double](& $pwsh @entry -NoProfile -NonInteractive -Command $addType | Select-Object -Last 1))
    $times.UpdateTypeData.Add([double](& $pwsh @entry -NoProfile -NonInteractive -Command $update | Select-Object -Last 1))
}

# The directory listing: the module's EntryNames against .NET's enumeration, in this process.
Import-Module $module
$sysfs = [VdpaPS.VdpaDevice].Assembly.GetType('VdpaPS.Netlink.Host.VdpaSysfs')
$entryNames = $sysfs.GetMethod('EntryNames', [Reflection.BindingFlags]'Static, NonPublic', [type[]]@([string]))
$dir = Join-Path '/dev/shm' "vdpaps-tricks-$PID"
$null = New-Item -ItemType Directory (Join-Path $dir 'devices'), (Join-Path $dir 'targets')
try {
    for ($i = 0; $i -lt 1024; $i++) {
        $target = New-Item -ItemType Directory (Join-Path $dir "targets/vdpa$i")
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $dir "devices/vdpa$i") -Target $target.FullName
    }
    $listings = [ordered]@{}
    foreach ($where in (Join-Path $dir 'devices'), '/proc') {
        $fixed = [System.Collections.Generic.List[double]]::new(); $plain = [System.Collections.Generic.List[double]]::new()
        $sw = [Diagnostics.Stopwatch]::new()
        for ($r = 0; $r -lt $Rounds; $r++) {
            $sw.Restart(); $a = $entryNames.Invoke($null, [object[]]@([string]$where)); $fixed.Add($sw.Elapsed.TotalMilliseconds)
            $sw.Restart(); $b = [IO.Directory]::GetFileSystemEntries([string]$where); $plain.Add($sw.Elapsed.TotalMilliseconds)
        }
        $listings[$where] = [pscustomobject]@{ Entries = $a.Count; PlainEntries = $b.Count; EntryNames = (Get-Median $fixed); GetFileSystemEntries = (Get-Median $plain) }
    }
} finally { Remove-Item -Recurse -Force $dir }

[pscustomobject]@{
    Load = (Get-Content /proc/loadavg)
    TypeTableAddTypeMs = Get-Median $times.AddType
    TypeTableUpdateTypeDataMs = Get-Median $times.UpdateTypeData
    AddTypeRuns = $times.AddType -join ' '
    UpdateRuns = $times.UpdateTypeData -join ' '
    Listings = $listings
} | ConvertTo-Json -Depth 4

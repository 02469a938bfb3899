#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs the VdpaPS benchmarks, prints their figures, and writes them into docs/performance.md.

.DESCRIPTION
    build.ps1 bench calls this after building the module. Three parts, each writing its results to -OutputPath:
      Import  on this machine: `pwsh -NoProfile -c 'exit'` against `pwsh -NoProfile -c 'Import-Module VdpaPS; exit'`,
              -ImportRuns starts each, interleaved; the difference of the medians is the import's cost
      Core    tests/VdpaPS.Benchmarks: allocations against the size of the returned objects, then BenchmarkDotNet
              (encode, decode, requests and dumps on the recorded kernel replies)
      Lab     one boot of the lab kernel (vduse,sim) running tests/bench/Lab-Benchmarks.ps1: per call, listing,
              creating and removing, against iproute2's vdpa
    The figures go between the markers in docs/performance.md (appended when the markers are missing); the prose
    around them, the method and the analysis, is kept. Parts not run this time keep their last results.

.EXAMPLE
    dotnet pwsh ./build.ps1 bench

.EXAMPLE
    ./tests/bench/Invoke-Benchmarks.ps1 -Root . -ModulePath out/VdpaPS/0.1.0 -Part Lab
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $Root,
    [Parameter(Mandatory)] [string] $ModulePath,
    # Where results are written; default out/bench under the repository.
    [string] $OutputPath,
    # The document the figures go into; default docs/performance.md.
    [string] $DocPath,
    [ValidateSet('Import', 'Core', 'Lab')]
    [string[]] $Part = @('Import', 'Core', 'Lab'),
    [int] $ImportRuns = 10,
    [int] $Calls = 200,
    # The lab's listing is measured at these device counts (a comma list); creating and removing on 256.
    [string] $Scale = '1,64,256,1024',
    # Seconds before the lab guest is stopped: each vdpa process costs a large fraction of a second under emulation.
    [int] $LabTimeoutSec = 3600
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$Root = (Resolve-Path $Root).Path
$ModulePath = (Resolve-Path $ModulePath).Path
if (-not $OutputPath) { $OutputPath = Join-Path $Root 'out/bench' }
if (-not $DocPath) { $DocPath = Join-Path $Root 'docs/performance.md' }
$OutputPath = (New-Item -ItemType Directory -Force $OutputPath).FullName
# A copy of the module under test: other work in this checkout may rebuild out/VdpaPS while the lab reads it.
$snapshot = Join-Path $OutputPath 'module/VdpaPS'
Remove-Item -Recurse -Force $snapshot -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force (Split-Path $snapshot) | Out-Null
Copy-Item -Recurse $ModulePath $snapshot
$ModulePath = $snapshot
$Manifest = Join-Path $ModulePath 'VdpaPS.psd1'
$Invariant = [Globalization.CultureInfo]::InvariantCulture

$BeginMarker = '<!-- bench:figures:begin (written by tests/bench/Invoke-Benchmarks.ps1; edits inside are replaced) -->'
$EndMarker = '<!-- bench:figures:end -->'

# Write-Step, Invoke-Native, Format-ShellWord, Get-Median: shared with build.ps1.
Import-Module (Join-Path $PSScriptRoot '../tools/BuildCommon.psm1') -Force

function F([double] $Value, [string] $Format = 'N1') { return $Value.ToString($Format, $Invariant) }

function Save-Json($Object, [string] $Name) {
    $Object | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $OutputPath $Name)
}

function Read-Json([string] $Name) {
    $path = Join-Path $OutputPath $Name
    if (Test-Path $path) { return Get-Content -Raw $path | ConvertFrom-Json }
    return $null
}

# ------------------------------------------------------------------------------------------------ import

function Invoke-ImportBenchmark {
    Write-Step "Import-Module VdpaPS over a bare pwsh start ($ImportRuns runs each, interleaved)"
    # The same pwsh as this one: through the dotnet host when this is the repository's tool, else its own launcher.
    $self = (Get-Process -Id $PID).Path
    $launcher = if ($self -like '*dotnet') { @($self, (Join-Path $PSHOME 'pwsh.dll')) } else { @($self) }
    $exe = $launcher[0]
    $pre = @($launcher | Select-Object -Skip 1)
    $importCommand = "Import-Module '$($Manifest.Replace("'", "''"))'; exit"
    # Inside the process as well: the import alone, without the runtime's start, written without the formatter.
    $inProcessCommand = "`$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$($Manifest.Replace("'", "''"))'; [Console]::WriteLine(`$w.Elapsed.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture)); exit"

    # Wall time, and the CPU time pwsh used (bash's `times`: its children's user and system time), which a busy
    # machine stretches far less than the wall time. bash's own start is in both starts alike.
    function Measure-Start([string] $Command) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $out = @(& bash -c '"$0" "$@"; rc=$?; times; exit $rc' $exe @pre -NoProfile -c $Command)
        $watch.Stop()
        if ($LASTEXITCODE -ne 0) { throw "pwsh -NoProfile -c `"$Command`" failed with exit code $LASTEXITCODE" }
        $cpu = 0.0
        foreach ($part in $out[-1].Split(' ')) {
            if ($part -match '^(\d+)m([\d.]+)s$') { $cpu += [double]$Matches[1] * 60000 + [double]::Parse($Matches[2], $Invariant) * 1000 }
        }
        return [pscustomobject]@{ Ms = $watch.Elapsed.TotalMilliseconds; CpuMs = $cpu; Output = @($out | Select-Object -SkipLast 2) }
    }

    # Two untimed starts: the first ones after a build read the files from disk.
    foreach ($c in 'exit', $importCommand, 'exit', $importCommand) { $null = Measure-Start $c }
    $bare = [Collections.Generic.List[double]]::new()
    $import = [Collections.Generic.List[double]]::new()
    $bareCpu = [Collections.Generic.List[double]]::new()
    $importCpu = [Collections.Generic.List[double]]::new()
    $inProcess = [Collections.Generic.List[double]]::new()
    for ($i = 0; $i -lt $ImportRuns; $i++) {
        $run = Measure-Start 'exit'
        $bare.Add($run.Ms)
        $bareCpu.Add($run.CpuMs)
        $run = Measure-Start $importCommand
        $import.Add($run.Ms)
        $importCpu.Add($run.CpuMs)
        $inProcess.Add([double]::Parse(((Measure-Start $inProcessCommand).Output | Select-Object -Last 1), $Invariant))
    }

    # Where the import's time goes, timed in steps inside one process each, half as many runs:
    #   first  an empty module (what any first import pays), then VdpaPS.dll alone (assemblies, cmdlets, and its
    #          module initializer, which gives two types their serialization depth), then its format file (the first
    #          in the session); the module has no types file
    #   warm   a tiny module with a types and a format file first (as an interactive session has had PSReadLine
    #          and formatted output), then the whole VdpaPS manifest
    $probe = New-Item -ItemType Directory -Force (Join-Path $OutputPath 'import-probe')
    New-ProbeModule $probe 'Empty' $false
    New-ProbeModule $probe 'Warm' $true
    $q = { param($Path) "'" + $Path.Replace("'", "''") + "'" }
    $steps = "`$w = [Diagnostics.Stopwatch]::StartNew(); `$t = [Collections.Generic.List[double]]::new(); " +
        "Import-Module $(& $q (Join-Path $probe 'Empty/Empty.psd1')); `$t.Add(`$w.Elapsed.TotalMilliseconds); `$w.Restart(); " +
        "Import-Module $(& $q (Join-Path $ModulePath 'VdpaPS.dll')); `$t.Add(`$w.Elapsed.TotalMilliseconds); `$w.Restart(); " +
        "Update-FormatData -AppendPath $(& $q (Join-Path $ModulePath 'VdpaPS.format.ps1xml')); `$t.Add(`$w.Elapsed.TotalMilliseconds); " +
        "[Console]::WriteLine([string]::Join(' ', `$t)); exit"
    $warm = "`$w = [Diagnostics.Stopwatch]::StartNew(); `$t = [Collections.Generic.List[double]]::new(); " +
        "Import-Module $(& $q (Join-Path $probe 'Warm/Warm.psd1')); `$t.Add(`$w.Elapsed.TotalMilliseconds); `$w.Restart(); " +
        "Import-Module $(& $q $Manifest); `$t.Add(`$w.Elapsed.TotalMilliseconds); " +
        "[Console]::WriteLine([string]::Join(' ', `$t)); exit"
    $stepRuns = [Collections.Generic.List[double[]]]::new()
    $warmRuns = [Collections.Generic.List[double[]]]::new()
    for ($i = 0; $i -lt [Math]::Max([int]($ImportRuns / 2), 1); $i++) {
        $stepRuns.Add([double[]](((Measure-Start $steps).Output | Select-Object -Last 1).Split(' ') | ForEach-Object { [double]::Parse($_, $Invariant) }))
        $warmRuns.Add([double[]](((Measure-Start $warm).Output | Select-Object -Last 1).Split(' ') | ForEach-Object { [double]::Parse($_, $Invariant) }))
    }
    $column = { param($Runs, $Index) Get-Median ([double[]]@($Runs | ForEach-Object { $_[$Index] })) }

    $result = [ordered]@{
        Date = (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm', $Invariant) + ' UTC'
        Launcher = ($launcher -join ' ')
        Runs = $ImportRuns
        BareMedianMs = Get-Median $bare
        ImportMedianMs = Get-Median $import
        InProcessMedianMs = Get-Median $inProcess
        BareMs = $bare
        ImportMs = $import
        InProcessMs = $inProcess
        BareCpuMs = $bareCpu
        ImportCpuMs = $importCpu
        CpuDifferenceMs = (Get-Median $importCpu) - (Get-Median $bareCpu)
        StepRuns = $stepRuns.Count
        FirstEmptyModuleMs = & $column $stepRuns 0
        AssembliesAndCmdletsMs = & $column $stepRuns 1
        FormatFileMs = & $column $stepRuns 2
        WarmProbeModuleMs = & $column $warmRuns 0
        AfterWarmImportMs = & $column $warmRuns 1
    }
    $result.DifferenceMs = $result.ImportMedianMs - $result.BareMedianMs
    Save-Json $result 'import.json'
    Write-Host ("  bare start {0} ms, with Import-Module {1} ms (medians): the import costs {2} ms; in-process {3} ms; CPU time {4} ms more" -f
        (F $result.BareMedianMs), (F $result.ImportMedianMs), (F $result.DifferenceMs), (F $result.InProcessMedianMs), (F $result.CpuDifferenceMs))
}

# A module of nothing but a manifest and an empty script, with a one-entry types and format file when asked.
function New-ProbeModule([string] $Parent, [string] $Name, [bool] $WithViews) {
    $dir = New-Item -ItemType Directory -Force (Join-Path $Parent $Name)
    Set-Content (Join-Path $dir "$Name.psm1") ''
    $views = ''
    if ($WithViews) {
        $views = "FormatsToProcess = @('$Name.format.ps1xml'); TypesToProcess = @('$Name.types.ps1xml')"
        Set-Content (Join-Path $dir "$Name.types.ps1xml") "<?xml version=`"1.0`" encoding=`"utf-8`"?>`n<Types><Type><Name>$Name.Probe</Name><Members><NoteProperty><Name>X</Name><Value>1</Value></NoteProperty></Members></Type></Types>"
        Set-Content (Join-Path $dir "$Name.format.ps1xml") ("<?xml version=`"1.0`" encoding=`"utf-8`"?>`n<Configuration><ViewDefinitions><View><Name>$Name.Probe</Name>" +
            "<ViewSelectedBy><TypeName>$Name.Probe</TypeName></ViewSelectedBy><ListControl><ListEntries><ListEntry><ListItems>" +
            '<ListItem><PropertyName>X</PropertyName></ListItem></ListItems></ListEntry></ListEntries></ListControl></View></ViewDefinitions></Configuration>')
    }
    Set-Content (Join-Path $dir "$Name.psd1") "@{ ModuleVersion = '1.0'; RootModule = '$Name.psm1'; FunctionsToExport = @(); $views }"
}

# ------------------------------------------------------------------------------------------------ core

function Invoke-CoreBenchmark {
    $bin = Join-Path $OutputPath 'benchmarks-bin'
    Write-Step 'Building tests/VdpaPS.Benchmarks (Release)'
    Invoke-Native dotnet build (Join-Path $Root 'tests/VdpaPS.Benchmarks/VdpaPS.Benchmarks.csproj') -c Release -o $bin --nologo -v quiet
    $dll = Join-Path $bin 'VdpaPS.Benchmarks.dll'

    Write-Step 'Allocations against the size of the returned objects'
    Invoke-Native dotnet $dll --footprint (Join-Path $OutputPath 'footprint.md')

    $artifacts = Join-Path $OutputPath 'bdn'
    $log = Join-Path $OutputPath 'bdn.log'
    Remove-Item -Recurse -Force $artifacts -ErrorAction SilentlyContinue
    Write-Step "BenchmarkDotNet (a short in-process job; its log: $log)"
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & dotnet $dll --filter '*' --artifacts $artifacts *> $log
    $exit = $LASTEXITCODE
    $watch.Stop()
    if ($exit -ne 0) {
        Get-Content $log -Tail 40 | Out-Host
        throw "BenchmarkDotNet failed with exit code $exit; see $log"
    }

    Save-Json ([ordered]@{ Date = (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm', $Invariant) + ' UTC'; Seconds = [Math]::Round($watch.Elapsed.TotalSeconds) }) 'core.json'
    Write-Host (Format-BenchmarkDotNet)
    Write-Host ("  BenchmarkDotNet took {0} s" -f [Math]::Round($watch.Elapsed.TotalSeconds))
}

function Get-BdnReports {
    $results = Join-Path $OutputPath 'bdn/results'
    if (-not (Test-Path $results)) { return @() }
    return @(Get-ChildItem $results -Filter '*-report-github.md' | Sort-Object Name)
}

# BenchmarkDotNet's summary tables, one per class, under its environment block (the same for all of them).
function Format-BenchmarkDotNet {
    $reports = @(Get-BdnReports)
    if ($reports.Count -eq 0) { return '(no BenchmarkDotNet results yet)' }
    $text = [Text.StringBuilder]::new()
    $environment = $null
    foreach ($report in $reports) {
        $content = Get-Content -Raw $report.FullName
        $parts = $content -split '(?m)^```\s*$'
        if (-not $environment -and $parts.Count -ge 3) { $environment = $parts[1].Trim() }
        $table = ($parts[-1].Trim() -split "`n" | ForEach-Object { $_.Replace('**', '') }) -join "`n"
        $class = $report.Name -replace '^VdpaPS\.Benchmarks\.', '' -replace '-report-github\.md$', ''
        [void]$text.AppendLine("$class`:").AppendLine().AppendLine($table).AppendLine()
    }

    $perDevice = Format-PerDevice
    if ($perDevice) { [void]$text.AppendLine($perDevice).AppendLine() }
    return "``````text`n$environment`n```````n`n" + $text.ToString().TrimEnd()
}

# The dumps per device: BenchmarkDotNet's time and allocation of a dump divided by its number of devices.
function Format-PerDevice {
    $csv = Get-ChildItem (Join-Path $OutputPath 'bdn/results') -Filter '*DumpBenchmarks-report.csv' -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $csv) { return $null }
    $lines = @('Per device, from DumpBenchmarks (median time and allocation of a dump divided by its devices):', '',
        '| Method | Devices | Time per device | Allocated per device |', '| --- | ---: | ---: | ---: |')
    foreach ($row in Import-Csv $csv.FullName) {
        $n = [double]$row.Devices
        $median = ConvertFrom-BdnValue $(if ($row.PSObject.Properties['Median']) { $row.Median } else { $row.Mean })
        $allocated = ConvertFrom-BdnValue $row.Allocated
        $lines += "| $($row.Method) | $($row.Devices) | $(F ($median / $n)) ns | $(F ($allocated / $n) 'N0') B |"
    }
    return $lines -join "`n"
}

# One method's row of a benchmark class's CSV report (median time in ns, allocation in B), or null before a run.
function Get-BdnRow([string] $Class, [string] $Method) {
    $csv = Get-ChildItem (Join-Path $OutputPath 'bdn/results') -Filter "*$Class-report.csv" -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $csv) { return $null }
    $row = Import-Csv $csv.FullName | Where-Object Method -eq $Method | Select-Object -First 1
    if (-not $row) { return $null }
    return [pscustomobject]@{
        MedianNs = ConvertFrom-BdnValue $(if ($row.PSObject.Properties['Median']) { $row.Median } else { $row.Mean })
        AllocatedB = ConvertFrom-BdnValue $row.Allocated
    }
}

# "1,234.5 ns", "57660 B", "-": the summary style fixes the units to ns and bytes.
function ConvertFrom-BdnValue([string] $Text) {
    $number = ($Text -replace '[^0-9.\-]', '')
    if ($number -in '', '-') { return 0.0 }
    return [double]::Parse($number, $Invariant)
}

# ------------------------------------------------------------------------------------------------ lab

function Invoke-LabBenchmark {
    $lab = Join-Path $Root 'tests/KernelLab/lab.sh'
    Write-Step 'Lab: setting up (cached after the first time)'
    Invoke-Native bash $lab setup
    $labResult = Join-Path $OutputPath 'lab.json'
    Remove-Item -Force $labResult -ErrorAction SilentlyContinue
    $script = Join-Path $Root 'tests/bench/Lab-Benchmarks.ps1'
    $guest = "dotnet pwsh -NoProfile -NonInteractive -File $(Format-ShellWord $script) -ModulePath $(Format-ShellWord $ModulePath) " +
        "-OutputFile $(Format-ShellWord $labResult) -Calls $Calls -Scale $Scale"
    Write-Step "Lab: one boot (vduse,sim) running tests/bench/Lab-Benchmarks.ps1 ($Calls calls, $Scale devices)"
    $watch = [Diagnostics.Stopwatch]::StartNew()
    # The guest runs in the caller's directory: the repository, where `dotnet pwsh` finds its tool manifest.
    Push-Location $Root
    try {
        & bash $lab run -m vduse,sim -o $OutputPath -t $LabTimeoutSec -- $guest
        $exit = $LASTEXITCODE
    } finally {
        Pop-Location
    }
    $watch.Stop()
    if ($exit -ne 0 -or -not (Test-Path $labResult)) { throw "The lab benchmark failed (exit code $exit)." }
    $result = Get-Content -Raw $labResult | ConvertFrom-Json
    $result | Add-Member Date ((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm', $Invariant) + ' UTC')
    $result | Add-Member BootSeconds ([Math]::Round($watch.Elapsed.TotalSeconds))
    $result | ConvertTo-Json -Depth 4 | Set-Content $labResult
}

# ------------------------------------------------------------------------------------------------ report

function Get-HostDescription {
    $cpu = (Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
    $os = if (Test-Path /etc/os-release) { ((Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace '^PRETTY_NAME=|"', '') } else { 'Linux' }
    $qemu = (& qemu-system-x86_64 --version 2>$null | Select-Object -First 1) -replace '^QEMU emulator version\s*', 'qemu '
    return [pscustomobject]@{
        Cpu = $cpu; Cores = [Environment]::ProcessorCount; Os = $os; Qemu = $qemu
        Dotnet = (& dotnet --version); PowerShell = $PSVersionTable.PSVersion.ToString()
    }
}

function Get-FootprintRows {
    $path = Join-Path $OutputPath 'footprint.md'
    if (-not (Test-Path $path)) { return @() }
    return @(Get-Content $path | ForEach-Object {
            if ($_ -match '^\| ([^|]+?) \| (\d+) \| (\d+) \| (-?\d+) \|') {
                [pscustomobject]@{ Operation = $Matches[1]; Allocated = [long]$Matches[2]; Returned = [long]$Matches[3]; Beyond = [long]$Matches[4] }
            }
        })
}

function Format-Verdict([bool] $Holds) { if ($Holds) { 'holds' } else { '**missed**' } }

# A result file's field, or '?' when a run of an older script did not write it.
function Get-Field($Object, [string] $Name) {
    $property = $Object.PSObject.Properties[$Name]
    if ($property) { return $property.Value }
    return '?'
}

# The lab's listing at each device count (older result files: none).
function Get-LabSteps($Lab) {
    if ($Lab.PSObject.Properties['Scale']) { return @($Lab.Scale) }
    return @()
}

# Per device at the largest count against 64: the scaling verdict's figures, or null without both counts.
function Get-ScaleFlatness($Lab) {
    $steps = @(Get-LabSteps $Lab)
    $base = $steps | Where-Object Devices -eq 64 | Select-Object -First 1
    $top = $steps | Where-Object Devices -gt 64 | Sort-Object Devices | Select-Object -Last 1
    if (-not $base -or -not $top) { return $null }
    $time = ($top.ListCmdletMs / $top.Devices) / ($base.ListCmdletMs / $base.Devices)
    $memory = ($top.ListCmdletAllocatedBytes / $top.Devices) / ($base.ListCmdletAllocatedBytes / $base.Devices)
    # Every count from 64 up, not only the largest, must stay within the bounds.
    $holds = $true
    foreach ($step in @($steps | Where-Object Devices -gt 64)) {
        $t = ($step.ListCmdletMs / $step.Devices) / ($base.ListCmdletMs / $base.Devices)
        $m = ($step.ListCmdletAllocatedBytes / $step.Devices) / ($base.ListCmdletAllocatedBytes / $base.Devices)
        if ($t -gt 1.5 -or $m -gt 1.25) { $holds = $false }
    }
    return [pscustomobject]@{ Devices = $top.Devices; Time = $time; Memory = $memory; Holds = $holds }
}

function Format-Report {
    $hostInfo = Get-HostDescription
    $import = Read-Json 'import.json'
    $core = Read-Json 'core.json'
    $lab = Read-Json 'lab.json'
    $footprint = @(Get-FootprintRows)
    $decoders = @($footprint | Where-Object Operation -like 'Decode*')
    $md = [Collections.Generic.List[string]]::new()

    $md.Add("Host: $($hostInfo.Cpu), $($hostInfo.Cores) cores (shared with other work while measured), $($hostInfo.Os), .NET SDK $($hostInfo.Dotnet), PowerShell $($hostInfo.PowerShell).")
    if ($lab) {
        $md.Add("Lab: kernel $($lab.Kernel) under $($hostInfo.Qemu) with TCG software emulation (no KVM), $($lab.GuestCpus) guest CPUs, $($lab.Iproute2), pwsh $($lab.PowerShell).")
    }
    $md.Add('')
    $md.Add('| Part | Run |')
    $md.Add('| --- | --- |')
    if ($import) { $md.Add("| Import, on the host | $(Get-Field $import Date) |") }
    if ($core) { $md.Add("| Core: allocations and BenchmarkDotNet, on the host | $(Get-Field $core Date), BenchmarkDotNet $(Get-Field $core Seconds) s |") }
    if ($lab) { $md.Add("| Lab: per call and scale, in one boot | $(Get-Field $lab Date), $(Get-Field $lab BootSeconds) s including boot and pwsh start |") }
    $md.Add('')

    $md.Add('### Targets')
    $md.Add('')
    $md.Add('| Target | Measured | Verdict |')
    $md.Add('| --- | --- | --- |')
    if ($lab) {
        $md.Add("| Per call at least 50x faster than ``vdpa -j dev show x \| ConvertFrom-Json`` | $(F $lab.PerCallRatio)x ($(F $lab.PerCallCmdletMs 'N2') ms against $(F $lab.PerCallIproute2JsonMs 'N2') ms) | $(Format-Verdict ($lab.PerCallRatio -ge 50)) |")
        foreach ($step in @(Get-LabSteps $lab | Where-Object { $_.PSObject.Properties['ListIproute2BashMs'] })) {
            $overFloor = $step.ListCmdletMs / $step.ListFloorMs
            $overTool = $step.ListCmdletMs / $step.ListIproute2BashMs
            $md.Add("| Listing $($step.Devices) devices within 2x of the raw netlink dump | $(F $overFloor 'N2')x ($(F $step.ListCmdletMs) ms against $(F $step.ListFloorMs) ms) | $(Format-Verdict ($overFloor -le 2)) |")
            $md.Add("| Listing $($step.Devices) devices in at most half the time of ``vdpa -j dev show`` | $(F $overTool 'N2')x ($(F $step.ListCmdletMs) ms against $(F $step.ListIproute2BashMs) ms) | $(Format-Verdict ($overTool -le 0.5)) |")
        }
        if ((Get-Field $lab CompareDevices) -ne '?' -and $lab.CreateCmdletMs) {
            $n = $lab.CompareDevices
            $create = $lab.CreateIproute2Ms / $lab.CreateCmdletMs
            $remove = $lab.RemoveIproute2Ms / $lab.RemoveCmdletMs
            # Decided on one call for all the names, which is how a script creates many devices, as Remove is one pipeline;
            # one command per device is shown beside it, and misses where pwsh's per-command cost is most of it.
            $batch = if ($lab.PSObject.Properties['CreateBatchMs'] -and $lab.CreateBatchMs) { $lab.CreateIproute2Ms / $lab.CreateBatchMs } else { 0 }
            $md.Add("| ``New-VdpaDevice`` per device at least 10x faster than ``vdpa dev add`` from bash | one call for all $n names: $(F $batch)x ($(F ($lab.CreateBatchMs / $n) 'N2') ms against $(F ($lab.CreateIproute2Ms / $n) 'N2') ms); one call per device in a ``foreach`` loop: $(F $create)x ($(F ($lab.CreateCmdletMs / $n) 'N2') ms) | $(Format-Verdict ($batch -ge 10)) (one call); $(if ($create -ge 10) { 'holds' } else { 'missed' }) (a call per device) |")
            $md.Add("| ``Remove-VdpaDevice`` per device at least 10x faster than ``vdpa dev del`` from bash | $(F $remove)x ($(F ($lab.RemoveCmdletMs / $n) 'N2') ms against $(F ($lab.RemoveIproute2Ms / $n) 'N2') ms, $n devices) | $(Format-Verdict ($remove -ge 10)) |")
        }
        if ($flat = Get-ScaleFlatness $lab) {
            $md.Add("| Listing flat from 64 devices up: per device, time within 1.5x and managed memory within 1.25x of that at 64 | at $($flat.Devices) devices: time $(F $flat.Time 'N2')x, memory $(F $flat.Memory 'N2')x of that at 64 | $(Format-Verdict $flat.Holds) |")
        }
    }
    if ($decoders.Count) {
        $beyond = ($decoders | Measure-Object Beyond -Sum).Sum
        $worst = $decoders | Sort-Object Beyond -Descending | Select-Object -First 1
        $measured = if ($beyond -eq 0) { 'nothing beyond the returned objects, in all five' } else { "$(@($decoders | Where-Object Beyond -gt 0).Count) of $($decoders.Count) decoders allocate more; most: $($worst.Operation), $($worst.Beyond) B beyond $($worst.Returned) B returned" }
        $md.Add("| Decoding allocates nothing beyond the objects it returns | $measured | $(Format-Verdict ($beyond -eq 0)) |")
    }
    $kept = Get-BdnRow 'CallBenchmarks' 'KeptClient'
    $socket = Get-BdnRow 'CallBenchmarks' 'NewSocket'
    if ($kept -and $socket) {
        # Per call (issue 15): a runspace's next command takes the connection its last one gave back (VdpaClientShelf);
        # before, each command opened a socket (the family was already resolved once per process).
        $md.Add("| Per call, no new socket or family lookup for a runspace's next command | the runspace's kept client taken and given back: $(F $kept.MedianNs) ns, $(F $kept.AllocatedB 'N0') B; a new socket, opened and closed on this host's kernel: $(F $socket.MedianNs) ns | $(Format-Verdict ($kept.AllocatedB -eq 0 -and $kept.MedianNs -lt $socket.MedianNs)) |")
    }
    if ($import) {
        # The verdict is on CPU time (issue 15): the difference of the medians of pwsh starts with and without the import,
        # which a busy machine stretches far less than wall time. Wall time and the import timed inside pwsh are shown beside it.
        $md.Add("| ``Import-Module VdpaPS`` in a bare pwsh under 100 ms of CPU time | $(F $import.CpuDifferenceMs) ms more CPU time with the import (difference of the medians of $($import.Runs) interleaved starts each); $(F $import.InProcessMedianMs) ms timed inside pwsh; whole starts $(F $import.DifferenceMs) ms apart | $(Format-Verdict ($import.CpuDifferenceMs -lt 100)) |")
    }
    $md.Add('')

    if ($import) {
        $md.Add('### Import, on the host')
        $md.Add('')
        $md.Add("``$($import.Launcher.Replace($HOME, '~')) -NoProfile -c ...``, $($import.Runs) starts of each, interleaved, after two untimed starts of each.")
        $md.Add('')
        $md.Add('| Start | Median | Fastest | Slowest |')
        $md.Add('| --- | ---: | ---: | ---: |')
        $rows = @(@('`exit`, wall time', $import.BareMs), @('`Import-Module VdpaPS; exit`, wall time', $import.ImportMs))
        if ($import.PSObject.Properties['BareCpuMs']) {
            $rows += , @('`exit`, CPU time (user + system)', $import.BareCpuMs)
            $rows += , @('`Import-Module VdpaPS; exit`, CPU time', $import.ImportCpuMs)
        }
        $rows += , @('`Import-Module` alone, timed inside the process', $import.InProcessMs)
        foreach ($row in $rows) {
            $values = [double[]]$row[1]
            $md.Add("| $($row[0]) | $(F (Get-Median $values)) ms | $(F ($values | Measure-Object -Minimum).Minimum) ms | $(F ($values | Measure-Object -Maximum).Maximum) ms |")
        }
        $md.Add("| **Import's cost**, difference of the wall-time medians | **$(F $import.DifferenceMs) ms** | | |")
        if ($import.PSObject.Properties['CpuDifferenceMs']) { $md.Add("| **Import's cost**, difference of the CPU-time medians | **$(F $import.CpuDifferenceMs) ms** | | |") }
        $md.Add('')
        if ($import.PSObject.Properties['StepRuns']) {
            $md.Add("Where it goes, timed in steps inside the process (medians of $($import.StepRuns) starts each):")
            $md.Add('')
            $md.Add('| Step | Time |')
            $md.Add('| --- | ---: |')
            $md.Add("| the session's first ``Import-Module``, of an empty module | $(F $import.FirstEmptyModuleMs) ms |")
            $md.Add("| then ``VdpaPS.dll`` alone: its assemblies, cmdlets and module initializer | $(F $import.AssembliesAndCmdletsMs) ms |")
            if ($import.PSObject.Properties['TypesFileMs']) { $md.Add("| then its types file (``Update-TypeData``), the session's first | $(F $import.TypesFileMs) ms |") }
            $md.Add("| then its format file (``Update-FormatData``) | $(F $import.FormatFileMs) ms |")
            $md.Add("| another start: first a tiny module with a types and a format file | $(F $import.WarmProbeModuleMs) ms |")
            $md.Add("| then the whole ``VdpaPS.psd1`` | $(F $import.AfterWarmImportMs) ms |")
            $md.Add('')
        }
    }

    if ($footprint.Count) {
        $md.Add('### Core: what each operation allocates against what it returns')
        $md.Add('')
        $md.Add('One call, warm (tier-1 code), measured with `GC.GetAllocatedBytesForCurrentThread`; the returned objects are every object reachable from the result that a second call does not share (the feature-name strings are static), each measured by allocating one of its shape (`tests/VdpaPS.Benchmarks/Footprint.cs`).')
        $md.Add('')
        foreach ($line in Get-Content (Join-Path $OutputPath 'footprint.md')) { $md.Add($line) }
        $md.Add('')
    }

    if (@(Get-BdnReports).Count) {
        $md.Add('### Core: BenchmarkDotNet')
        $md.Add('')
        $md.Add('On the recorded kernel replies (`tests/VdpaPS.Netlink.Tests/Fixtures`); requests and dumps go through `NetlinkConnection` and a replay transport that copies the recorded datagrams into the connection''s buffer. The 256-device dump is the recorded device message repeated with other names, packed as the kernel packs a dump. With two shared cores the times wander between runs (see Error); the allocations do not.')
        $md.Add('')
        $md.Add((Format-BenchmarkDotNet))
        $md.Add('')
    }

    if ($lab) {
        $n = $lab.Created
        $md.Add("### Lab: per call ($($lab.Calls) calls of each in one pwsh)")
        $md.Add('')
        $md.Add('Per call: the total time of all calls divided by their number. Stalls of the emulated guest fall into some rounds and not others, so the median of the rounds is shown beside it.')
        $md.Add('')
        $blocks = if ($lab.PSObject.Properties['PerCallBlocks']) { $lab.PerCallBlocks } else { $null }
        $roundMedian = { param($Key) if ($blocks -and $blocks.PSObject.Properties[$Key]) { "$(F (Get-Median ([double[]]@($blocks.$Key))) 'N2') ms" } else { '' } }
        $md.Add('| Path | Per call | Median of the rounds | Against the cmdlet |')
        $md.Add('| --- | ---: | ---: | ---: |')
        $paths = @(
            @('PerCallCmdletMs', '`Get-VdpaDevice -Name x`'),
            @('PerCallIproute2JsonMs', '`vdpa -j dev show x \| ConvertFrom-Json`'),
            @('PerCallIproute2FromPwshMs', '`vdpa -j dev show x` from pwsh, no JSON'),
            @('PerCallIproute2BashMs', '`vdpa -j dev show x` in a bash loop'),
            @('PerCallCoreMs', 'core alone: `VdpaClient` Open, GetDevice, Dispose'),
            @('PerCallOpenCloseMs', 'of which the socket: `VdpaClient` Open, Dispose'))
        foreach ($path in $paths) {
            if (-not $lab.PSObject.Properties[$path[0]]) { continue }
            $value = $lab.($path[0])
            $md.Add("| $($path[1]) | $(F $value 'N2') ms | $(& $roundMedian $path[0]) | $(F ($value / $lab.PerCallCmdletMs) 'N2')x |")
        }
        if ($blocks) {
            $md.Add('')
            $md.Add("Per call in each of the $(@($blocks.PerCallCmdletMs).Count) rounds, in order (ms):")
            $md.Add('')
            foreach ($path in $blocks.PSObject.Properties) {
                $md.Add("- $($path.Name -replace '^PerCall|Ms$', ''): $((@($path.Value) | ForEach-Object { F $_ 'N1' }) -join ', ')")
            }
        }
        $md.Add('')
        $steps = @(Get-LabSteps $lab)
        $md.Add("### Lab: listing on vdpasim_net, from 1 to $($lab.Created) devices")
        $md.Add('')
        if ($lab.CreateError) { $md.Add("Creation stopped after $($lab.Created) of $($lab.Requested) devices: $($lab.CreateError)"); $md.Add('') }
        $md.Add("Medians of the rounds in which every method runs once (the C tool timed by the bash that runs it); managed memory: the bytes one listing allocates on pwsh's thread (``GC.GetAllocatedBytesForCurrentThread``, the least of three). MemAvailable: the guest's, $(F ((Get-Field $lab MemAvailableBeforeKb) / 1024) 'N0') MiB before any device.")
        $md.Add('')
        $md.Add('| Devices | Rounds | `Get-VdpaDevice` | per device | floor (raw dump) | per device | cmdlet / floor | managed memory a listing | per device | floor''s per device | MemAvailable |')
        $md.Add('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
        foreach ($step in $steps) {
            $d = $step.Devices
            $md.Add("| $d | $($step.Rounds) | $(F $step.ListCmdletMs) ms | $(F ($step.ListCmdletMs * 1000 / $d) 'N1') µs | $(F $step.ListFloorMs) ms | $(F ($step.ListFloorMs * 1000 / $d) 'N1') µs | $(F ($step.ListCmdletMs / $step.ListFloorMs) 'N2')x | $(F $step.ListCmdletAllocatedBytes 'N0') B | $(F ($step.ListCmdletAllocatedBytes / $d) 'N0') B | $(F ($step.ListFloorAllocatedBytes / $d) 'N0') B | $(F ($step.MemAvailableKb / 1024) 'N0') MiB |")
        }
        foreach ($step in @($steps | Where-Object { $_.PSObject.Properties['ListIproute2BashMs'] })) {
            $d = $step.Devices
            $md.Add('')
            $md.Add("$d devices:")
            $md.Add('')
            $md.Add('| Listing | Time | Cmdlet against it |')
            $md.Add('| --- | ---: | ---: |')
            $md.Add("| ``Get-VdpaDevice`` | $(F $step.ListCmdletMs) ms | 1x |")
            $md.Add("| ``vdpa -j dev show``, the C tool alone (timed in bash) | $(F $step.ListIproute2BashMs) ms | $(F ($step.ListCmdletMs / $step.ListIproute2BashMs) 'N2')x |")
            $md.Add("| ``vdpa -j dev show \| ConvertFrom-Json`` | $(F $step.ListIproute2JsonMs) ms | $(F ($step.ListCmdletMs / $step.ListIproute2JsonMs) 'N2')x |")
            $md.Add("| ``vdpa -j dev show`` from pwsh, no JSON | $(F $step.ListIproute2FromPwshMs) ms | $(F ($step.ListCmdletMs / $step.ListIproute2FromPwshMs) 'N2')x |")
            $md.Add("| floor: ``VdpaClient`` Open, GetDevices, Dispose | $(F $step.ListFloorMs) ms | $(F ($step.ListCmdletMs / $step.ListFloorMs) 'N2')x |")
            $md.Add('')
            # Parts measured on their own in the same rounds; their medians need not add up to the cmdlet's.
            $md.Add("What the cmdlet's $(F $step.ListCmdletMs) ms are made of, each part timed on its own in the same rounds: the dump alone (the floor) $(F $step.ListFloorMs) ms; ``Get-VdpaDevice 'none*'``, the same dump through the cmdlet with nothing to emit, $(F $step.ListCmdletNoMatchMs) ms; sysfs as one listing reads it (``VdpaSysfsListing.Describe`` on every device, called from a pwsh ``foreach``, so with pwsh's cost per method call) $(F $step.ListSysfsMs) ms ($(F ($step.ListSysfsMs * 1000 / $d) 'N0') µs a device); the $d devices through ``Write-Output`` $(F $step.ListPipelineMs) ms.")
        }
        $md.Add('')
        if ((Get-Field $lab CompareDevices) -ne '?') {
            $n = $lab.CompareDevices
            $md.Add("Creating and removing $n devices, each from no devices (creating all $($lab.Created) for the listing took $(F $lab.CreateAllMs 'N0') ms with ``New-VdpaDevice``, $(F ($lab.CreateAllMs / [Math]::Max($lab.Created, 1)) 'N2') ms a device):")
            $md.Add('')
            $md.Add('| Creating and removing | Total | Per device |')
            $md.Add('| --- | ---: | ---: |')
            $rows = @(
                @('CreateCmdletMs', '`New-VdpaDevice` in a `foreach` loop'),
                @('CreateBatchMs', '`New-VdpaDevice -Name <all the names>`, one call'),
                @('CreateIproute2Ms', 'bash loop of `vdpa dev add`'),
                @('CreateCoreMs', 'core alone: `VdpaClient.CreateDevice` in a pwsh loop, one socket'),
                @('RemoveCmdletMs', '`Get-VdpaDevice ''ba*'' \| Remove-VdpaDevice -Confirm:$false`'),
                @('RemoveIproute2Ms', 'bash loop of `vdpa dev del`'),
                @('RemoveCoreMs', 'core alone: `VdpaClient.DeleteDevice` in a pwsh loop, one socket'))
            foreach ($row in $rows) {
                if ($lab.PSObject.Properties[$row[0]] -and $null -ne $lab.($row[0])) {
                    $md.Add("| $($row[1]) | $(F $lab.($row[0]) 'N0') ms | $(F ($lab.($row[0]) / $n) 'N2') ms |")
                }
            }
            $md.Add('')
        }
        $md.Add("``Import-Module VdpaPS`` in the guest, timed inside pwsh: $(F $lab.ImportMs 'N0') ms.")
    }

    return ($md -join "`n").TrimEnd()
}

function Write-Document([string] $Figures) {
    $block = "$BeginMarker`n$Figures`n$EndMarker"
    if (Test-Path $DocPath) {
        $doc = Get-Content -Raw $DocPath
        $begin = $doc.IndexOf('<!-- bench:figures:begin')
        $end = $doc.IndexOf($EndMarker)
        if ($begin -ge 0 -and $end -gt $begin) {
            $doc = $doc.Substring(0, $begin) + $block + $doc.Substring($end + $EndMarker.Length)
        } else {
            $doc = $doc.TrimEnd() + "`n`n## Figures`n`n$block`n"
        }
    } else {
        $doc = "# Performance`n`nHow the figures are made: tests/bench/Invoke-Benchmarks.ps1.`n`n## Figures`n`n$block`n"
    }
    Set-Content -Path $DocPath -Value $doc.TrimEnd() -Encoding utf8
}

$started = [Diagnostics.Stopwatch]::StartNew()
if ('Import' -in $Part) { Invoke-ImportBenchmark }
if ('Core' -in $Part) { Invoke-CoreBenchmark }
if ('Lab' -in $Part) { Invoke-LabBenchmark }

$report = Format-Report
$reportFile = Join-Path $OutputPath 'results.md'
Set-Content -Path $reportFile -Value $report -Encoding utf8
Write-Document $report
Write-Host ''
Write-Host $report
Write-Host ''
Write-Step "Figures written to $reportFile and $DocPath (benchmarks took $([Math]::Round($started.Elapsed.TotalSeconds)) s)"

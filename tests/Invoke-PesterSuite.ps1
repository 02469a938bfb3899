<#
.SYNOPSIS
    Runs one folder of Pester tests against a built module and writes the counts as JSON.
.DESCRIPTION
    build.ps1 calls this in a child pwsh, on the host and inside the lab kernel. The tests find the
    module through $env:VDPAPS_MODULE_PATH (the built module's folder).

    The tests run under PowerShell's default $ErrorActionPreference (Continue), as users' scripts do: a test
    about an error's kind (terminating or not) sees the kind the cmdlet gives, and a test that needs a
    command to stop says so with -ErrorAction Stop.

    The result file (read by build.ps1) holds Passed, Failed, Skipped, NotRun, Inconclusive,
    FailedContainers, FailedBlocks, Result ('Passed' or 'Failed'), Duration, and where the time went, which
    the summary prints: Phases (seconds: pwsh's start, Pester's import, discovery, the tests, the rest),
    Slowest (the ten slowest tests: Name, Seconds) and Files (each file's Name, Seconds and TestSeconds, its It
    blocks' part). Result is 'Failed' when Pester's own result is (a failed test, BeforeAll/AfterAll block or
    file), when a test was inconclusive, when a test did not run although no filter left it out, or when no test
    passed.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    # Files or folders; several comma-separated, as `pwsh -File` passes each word as one string.
    [Parameter(Mandatory)] [string[]] $Path,
    [Parameter(Mandatory)] [string] $ResultFile,
    [string[]] $Tag,
    [string[]] $ExcludeTag,
    # Only the tests whose full name (block and test names joined by dots) matches this wildcard pattern.
    [string] $FullName
)

function Write-Result([System.Collections.IDictionary] $Counts) {
    $Counts | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $ResultFile -ErrorAction Stop
}

# Counts of a run that did not report: every field present, so the summary reads it as a failed suite.
$counts = [ordered]@{
    Passed = 0; Failed = 0; Skipped = 0; NotRun = 0; Inconclusive = 0
    FailedContainers = 0; FailedBlocks = 0; Result = 'Failed'; Duration = 0
}
# From this script's start: with the process start before it, where the time of a lab run goes.
function Get-BlockTests($Block) {
    # A block's tests and those of the blocks inside it.
    $Block.Tests
    foreach ($inner in $Block.Blocks) { Get-BlockTests $inner }
}

$started = [datetime]::UtcNow
$startedProcess = (Get-Process -Id $PID).StartTime.ToUniversalTime()
try {
    Import-Module $PesterPath -ErrorAction Stop
    $imported = [datetime]::UtcNow
    $env:VDPAPS_MODULE_PATH = (Resolve-Path $ModulePath -ErrorAction Stop).Path

    $config = New-PesterConfiguration
    $Path = @($Path | ForEach-Object { $_ -split ',' })
    $config.Run.Path = $Path
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $filtered = [bool]($Tag -or $ExcludeTag -or $FullName)
    if ($Tag) { $config.Filter.Tag = $Tag }
    if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag }
    if ($FullName) { $config.Filter.FullName = $FullName }
    $result = Invoke-Pester -Configuration $config
    $finished = [datetime]::UtcNow
    # Pester reports some failures of its own (no test file found, say) as an error and no result.
    if ($null -eq $result) { throw "Invoke-Pester returned no result for $Path." }
} catch {
    Write-Host "The Pester run in $Path did not complete: $_" -ForegroundColor Red
    Write-Result $counts
    exit 1
}

$counts.Passed = $result.PassedCount
$counts.Failed = $result.FailedCount
$counts.Skipped = $result.SkippedCount
$counts.NotRun = $result.NotRunCount
$counts.Inconclusive = $result.InconclusiveCount
$counts.FailedContainers = $result.FailedContainersCount
$counts.FailedBlocks = $result.FailedBlocksCount
$counts.Duration = $result.Duration.TotalSeconds
# Where the time went (issue 26), in seconds: pwsh's own start before this script, importing Pester, Pester's
# discovery of the files, the tests themselves (It blocks with their BeforeEach/AfterEach), the rest of the run
# (BeforeAll/AfterAll and Pester's own work); then the ten slowest tests and the time of each file.
$testSeconds = ($result.Tests | ForEach-Object { $_.Duration.TotalSeconds } | Measure-Object -Sum).Sum
$counts.Phases = [ordered]@{
    PwshStart = [math]::Round(($started - $startedProcess).TotalSeconds, 1)
    PesterImport = [math]::Round(($imported - $started).TotalSeconds, 1)
    Discovery = [math]::Round($result.DiscoveryDuration.TotalSeconds, 1)
    Tests = [math]::Round($testSeconds, 1)
    SetupAndTeardown = [math]::Round(($finished - $imported).TotalSeconds - $result.DiscoveryDuration.TotalSeconds - $testSeconds, 1)
    Total = [math]::Round(($finished - $startedProcess).TotalSeconds, 1)
}
$counts.Slowest = @($result.Tests | Sort-Object { $_.Duration } -Descending | Select-Object -First 10 | ForEach-Object {
    [ordered]@{ Name = $_.ExpandedPath; Seconds = [math]::Round($_.Duration.TotalSeconds, 1) }
})
# Per file: its whole time and its tests' (It blocks); the rest is its BeforeAll/AfterAll and Pester's work. (Pester's
# own per-block OwnDuration is not usable for this: over one run its top ten blocks summed to twice the whole rest.)
$counts.Files = @($result.Containers | ForEach-Object {
    $fileTests = ($_.Blocks | ForEach-Object { Get-BlockTests $_ } | ForEach-Object { $_.Duration.TotalSeconds } | Measure-Object -Sum).Sum
    [ordered]@{ Name = Split-Path -Leaf "$($_.Item)"; Seconds = [math]::Round($_.Duration.TotalSeconds, 1); TestSeconds = [math]::Round([double]$fileTests, 1) }
})

$reasons = [System.Collections.Generic.List[string]]::new()
# Pester's Result counts failed tests, failed blocks (BeforeAll/AfterAll) and failed containers (files).
if ($result.Result -ne 'Passed') { $reasons.Add("Pester's result is '$($result.Result)'") }
if ($result.FailedBlocksCount -gt 0) {
    $reasons.Add("$($result.FailedBlocksCount) block(s) failed: $(@($result.FailedBlocks | ForEach-Object { $_.ExpandedPath }) -join '; ')")
}
if ($result.InconclusiveCount -gt 0) { $reasons.Add("$($result.InconclusiveCount) test(s) were inconclusive") }
# Without a filter every discovered test should run; one that did not run means its block never started.
if (-not $filtered -and $result.NotRunCount -gt 0) {
    $reasons.Add("$($result.NotRunCount) test(s) did not run: $(@($result.NotRun | ForEach-Object { $_.ExpandedPath }) -join '; ')")
}
if ($result.PassedCount -eq 0) { $reasons.Add('no test passed') }

$counts.Result = if ($reasons.Count -gt 0) { 'Failed' } else { 'Passed' }
Write-Result $counts
if ($reasons.Count -gt 0) {
    Write-Host "The run of $Path failed: $($reasons -join '; ')." -ForegroundColor Red
    exit 1
}
exit 0

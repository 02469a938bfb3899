<#
.SYNOPSIS
    Runs one folder of Pester tests against a built module and writes the counts as JSON.
.DESCRIPTION
    build.ps1 calls this in a child pwsh, on the host and inside the lab kernel. The tests find the
    module through $env:VDPAPS_MODULE_PATH (the built module's folder).
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Path,
    [Parameter(Mandatory)] [string] $ResultFile,
    [string[]] $Tag,
    [string[]] $ExcludeTag
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -MinimumVersion 6.2.0
$env:VDPAPS_MODULE_PATH = (Resolve-Path $ModulePath).Path

$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($Tag) { $config.Filter.Tag = $Tag }
if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag }
$result = Invoke-Pester -Configuration $config

[ordered]@{
    Passed = $result.PassedCount
    Failed = $result.FailedCount
    Skipped = $result.SkippedCount
    NotRun = $result.NotRunCount
    FailedContainers = $result.FailedContainersCount
    Duration = $result.Duration.TotalSeconds
} | ConvertTo-Json | Set-Content $ResultFile

if ($result.FailedCount -gt 0 -or $result.FailedContainersCount -gt 0) { exit 1 }
if ($result.PassedCount -eq 0) { Write-Error "No test passed in $Path."; exit 1 }
exit 0

#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and packages VdpaPS, and runs commands in the lab kernel.

.DESCRIPTION
    Run it with the repository's own PowerShell: `dotnet tool restore`, then `dotnet pwsh ./build.ps1 <task>`.

    build    publish the module to out/VdpaPS/<version>/, ready for Import-Module
    test     build, then every test: the core's xUnit tests, the host Pester tests, and the
             end-to-end Pester tests inside one boot of the lab kernel
    package  build, then write out/packages/VdpaPS.<version>.nupkg
    lab      boot the lab kernel and run -Command in it (sets the lab up first when needed)
    demo     the README's main job: the runbook in docs/examples, run in the lab kernel
    bench    benchmarks; figures printed and written to docs/performance.md
    record   record the lab kernel's raw vdpa replies into the core's unit-test fixtures
    clean    remove out/ and every bin/ and obj/

.EXAMPLE
    dotnet pwsh ./build.ps1 test

.EXAMPLE
    dotnet pwsh ./build.ps1 lab -Command 'vdpa -j mgmtdev show'
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'package', 'lab', 'demo', 'bench', 'record', 'clean')]
    [string] $Task = 'build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # lab: the shell command to run as root in the guest, in the repository's directory.
    [string] $Command,

    # lab: kernel modules to load, comma-separated: vduse, sim, virtio, vhost, noprobe.
    [string] $Modules = 'vduse,sim',

    # lab: seconds before the guest is stopped.
    [int] $TimeoutSec = 1800,

    # lab: a host folder the guest can write to (mounted at the same path).
    [string] $OutputPath,

    # test: skip the lab-kernel tests (for quick local iterations only; CI never passes it).
    [switch] $SkipLab
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$Root = $PSScriptRoot
$OutRoot = Join-Path $Root 'out'

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Invoke-Native {
    # Runs a native command and stops the build when it fails. No param block: every argument, -o included, goes to the command.
    $filePath, $arguments = $args
    & $filePath @arguments
    if ($LASTEXITCODE -ne 0) { throw "$filePath $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw (Join-Path $Root 'Directory.Build.props'))
    return $props.Project.PropertyGroup.Version | Where-Object { $_ } | Select-Object -First 1
}

function Get-ModuleOutputPath {
    return Join-Path $OutRoot "VdpaPS/$(Get-ModuleVersion)"
}

function Get-PesterModulePath {
    Invoke-Native dotnet restore (Join-Path $Root 'tests/tools/PesterDownload.csproj') --verbosity quiet
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $path = Join-Path $nugetRoot 'pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $path)) { throw "Pester was restored but $path is missing." }
    return $path
}

function Invoke-Build {
    $version = Get-ModuleVersion
    $dest = Get-ModuleOutputPath
    Write-Step "Building VdpaPS $version into $dest"
    $publish = Join-Path $OutRoot 'publish'
    Remove-Item -Recurse -Force $publish, $dest -ErrorAction SilentlyContinue
    # A portable publish (no runtime identifier) carries Tmds.LibC for every Linux RID under runtimes/;
    # the module's initializer picks the one for the running process.
    Invoke-Native dotnet publish (Join-Path $Root 'src/VdpaPS/VdpaPS.csproj') -c $Configuration -o $publish --nologo -v quiet

    New-Item -ItemType Directory -Force $dest | Out-Null
    Copy-Item (Join-Path $publish 'VdpaPS.dll'), (Join-Path $publish 'VdpaPS.Netlink.dll') $dest
    foreach ($rid in 'linux-x64', 'linux-arm64') {
        $libc = Get-ChildItem (Join-Path $publish "runtimes/$rid/lib") -Recurse -Filter 'Tmds.LibC.dll' | Select-Object -First 1
        if (-not $libc) { throw "Tmds.LibC for $rid is missing from the publish output." }
        $ridDir = New-Item -ItemType Directory -Force (Join-Path $dest "runtimes/$rid")
        Copy-Item $libc.FullName $ridDir
    }
    Copy-Item (Join-Path $Root 'module/*') $dest -Recurse
    # The manifest in module/ carries a placeholder so the version has a single source.
    $manifest = Join-Path $dest 'VdpaPS.psd1'
    (Get-Content -Raw $manifest).Replace('{{ModuleVersion}}', $version) | Set-Content -NoNewline $manifest

    $helpBuilder = Join-Path $Root 'docs/tools/Build-Help.ps1'
    if (Test-Path $helpBuilder) { & $helpBuilder -DocsPath (Join-Path $Root 'docs') -OutputPath $dest }
    Write-Step "Built $manifest"
}

function Invoke-ChildPwsh {
    # Tests run in a child pwsh so this session never loads the module's DLL (it could not be rebuilt then).
    param([string] $Script, [string[]] $Arguments)
    $pwsh = (Get-Process -Id $PID).Path
    # @() around the if: a one-element result would otherwise be a string, and splatting a string passes its letters.
    $entry = @(if ($pwsh -like '*dotnet') { 'pwsh' })
    # Out-Host: the child's output is for the reader; only the exit code is this function's result.
    & $pwsh @entry -NoProfile -NonInteractive -File $Script @Arguments | Out-Host
    return $LASTEXITCODE
}

function Invoke-Test {
    Invoke-Build
    $results = Join-Path $OutRoot 'test-results'
    Remove-Item -Recurse -Force $results -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $results | Out-Null
    $summary = [System.Collections.Generic.List[object]]::new()

    Write-Step 'Core tests (xUnit, against this machine''s kernel)'
    $trx = 'core.trx'
    & dotnet test (Join-Path $Root 'tests/VdpaPS.Netlink.Tests/VdpaPS.Netlink.Tests.csproj') -c $Configuration --nologo `
        --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal' --results-directory $results
    $coreExit = $LASTEXITCODE
    $summary.Add((Read-TrxSummary (Join-Path $results $trx) 'core (xUnit)' $coreExit))

    # Test tooling the lab tests load (VDUSE devices and the like); built apart from the module.
    Invoke-Native dotnet build (Join-Path $Root 'tests/VdpaPS.TestTools/VdpaPS.TestTools.csproj') -c $Configuration -o (Join-Path $OutRoot 'testtools') --nologo -v quiet

    $pester = Get-PesterModulePath
    $runner = Join-Path $Root 'tests/Invoke-PesterSuite.ps1'
    Write-Step 'Module tests (Pester, on this machine)'
    $hostResult = Join-Path $results 'host.json'
    $hostExit = Invoke-ChildPwsh $runner @('-PesterPath', $pester, '-ModulePath', (Get-ModuleOutputPath),
        '-Path', (Join-Path $Root 'tests/Module'), '-ResultFile', $hostResult)
    $summary.Add((Read-PesterSummary $hostResult 'module (Pester, host)' $hostExit))

    if ($SkipLab) {
        Write-Warning 'Lab tests skipped (-SkipLab): the kernel end-to-end tests did not run.'
    } else {
        Write-Step 'End-to-end tests (Pester, in the lab kernel)'
        $labResult = Join-Path $results 'lab.json'
        # `pwsh` in the guest is the lab's direct command for the pinned PowerShell: no SDK tool lookup under emulation.
        $guestCommand = "pwsh -NoProfile -NonInteractive -File $(Format-ShellWord $runner) " +
            "-PesterPath $(Format-ShellWord $pester) -ModulePath $(Format-ShellWord (Get-ModuleOutputPath)) " +
            "-Path $(Format-ShellWord (Join-Path $Root 'tests/Lab')) -ResultFile $(Format-ShellWord $labResult)"
        $labExit = Invoke-Lab -LabCommand $guestCommand -LabModules 'vduse,sim' -LabOutput $results
        $summary.Add((Read-PesterSummary $labResult 'end-to-end (Pester, lab kernel)' $labExit))
    }

    Write-Host ''
    $summary | Format-Table -AutoSize | Out-Host
    $passed = ($summary | Measure-Object Passed -Sum).Sum
    $failed = ($summary | Measure-Object Failed -Sum).Sum
    $skipped = ($summary | Measure-Object Skipped -Sum).Sum
    $broken = @($summary | Where-Object { $_.ExitCode -ne 0 -and $_.Failed -eq 0 })
    foreach ($b in $broken) { Write-Host "$($b.Suite) ended with exit code $($b.ExitCode) without reporting a failed test." -ForegroundColor Red }
    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $broken.Count -gt 0 -or $passed -eq 0) { exit 1 }
}

function Format-ShellWord([string] $Word) {
    return "'" + $Word.Replace("'", "'\''") + "'"
}

function Read-TrxSummary([string] $Path, [string] $Suite, [int] $ExitCode) {
    $counts = [ordered]@{ Suite = $Suite; Passed = 0; Failed = 0; Skipped = 0; ExitCode = $ExitCode }
    if (Test-Path $Path) {
        $c = ([xml](Get-Content -Raw $Path)).TestRun.ResultSummary.Counters
        $counts.Passed = [int]$c.passed
        $counts.Failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $counts.Skipped = [int]$c.notExecuted
    }
    return [pscustomobject]$counts
}

function Read-PesterSummary([string] $Path, [string] $Suite, [int] $ExitCode) {
    $counts = [ordered]@{ Suite = $Suite; Passed = 0; Failed = 0; Skipped = 0; ExitCode = $ExitCode }
    if (Test-Path $Path) {
        $r = Get-Content -Raw $Path | ConvertFrom-Json
        $counts.Passed = $r.Passed; $counts.Failed = $r.Failed + $r.FailedContainers; $counts.Skipped = $r.Skipped
    }
    return [pscustomobject]$counts
}

function Invoke-Lab {
    # Boots the lab kernel once and runs LabCommand in it; returns the command's exit code.
    param([string] $LabCommand, [string] $LabModules, [string] $LabOutput)
    $lab = Join-Path $Root 'tests/lab/lab.sh'
    Invoke-Native bash $lab setup
    $labArgs = @('run', '-m', $LabModules, '-t', "$TimeoutSec")
    if ($LabOutput) { $labArgs += @('-o', $LabOutput) }
    # Out-Host streams the guest's output as it comes; without it the output would become this
    # function's return value, and the caller would take it for the exit code.
    & bash $lab @labArgs -- $LabCommand | Out-Host
    return $LASTEXITCODE
}

function Invoke-Package {
    Invoke-Build
    $packages = Join-Path $OutRoot 'packages'
    New-Item -ItemType Directory -Force $packages | Out-Null
    Write-Step "Packaging into $packages"
    $exit = Invoke-ChildPwsh (Join-Path $Root 'tests/tools/New-ModulePackage.ps1') @('-ModulePath', (Get-ModuleOutputPath), '-Destination', $packages)
    if ($exit -ne 0) { throw "Packaging failed with exit code $exit" }
}

Push-Location $Root
try {
    switch ($Task) {
        'build' { Invoke-Build }
        'test' { Invoke-Test }
        'package' { Invoke-Package }
        'lab' {
            if (-not $Command) { throw 'The lab task needs -Command, the shell command to run in the guest.' }
            Invoke-Build
            exit (Invoke-Lab -LabCommand $Command -LabModules $Modules -LabOutput $OutputPath)
        }
        'demo' {
            Invoke-Build
            $demo = Join-Path $Root 'docs/examples/Demo.ps1'
            exit (Invoke-Lab -LabCommand "pwsh -NoProfile -NonInteractive -File $(Format-ShellWord $demo) -ModulePath $(Format-ShellWord (Get-ModuleOutputPath))" -LabModules 'vduse,sim,virtio,vhost,noprobe')
        }
        'bench' {
            Invoke-Build
            & (Join-Path $Root 'tests/bench/Invoke-Benchmarks.ps1') -Root $Root -ModulePath (Get-ModuleOutputPath)
        }
        'record' {
            $recorder = Join-Path $OutRoot 'recorder'
            Invoke-Native dotnet build (Join-Path $Root 'tests/VdpaPS.FixtureRecorder/VdpaPS.FixtureRecorder.csproj') -c $Configuration -o $recorder --nologo -v quiet
            $fixtures = Join-Path $Root 'tests/VdpaPS.Netlink.Tests/Fixtures'
            exit (Invoke-Lab -LabCommand "dotnet $(Format-ShellWord (Join-Path $recorder 'VdpaPS.FixtureRecorder.dll')) $(Format-ShellWord $fixtures)" -LabModules 'vduse,sim,virtio' -LabOutput $fixtures)
        }
        'clean' {
            Remove-Item -Recurse -Force $OutRoot -ErrorAction SilentlyContinue
            Get-ChildItem $Root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
        }
    }
} finally {
    Pop-Location
}

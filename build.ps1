#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and packages VdpaPS, and runs commands in the lab kernel.

.DESCRIPTION
    Run it with the repository's own PowerShell: `dotnet tool restore`, then `dotnet pwsh ./build.ps1 <task>`.

    build    publish the module to out/VdpaPS/<version>/, ready for Import-Module
    test     build, then every test: the core's xUnit tests, the host Pester tests, and on each lab
             kernel the end-to-end Pester tests and the lab's self-test, one boot per kernel (qemu 11, q35:
             vduse, the simulator, PCI parents, SR-IOV PFs, sshd; at most one boot per core at once,
             beside the host suites); where each boot's time went, its ten slowest tests and its
             files' times, one summary row per suite and kernel, then
             `tests: N passed, N failed, N skipped`. -LabPath and -FullName run only those lab tests.
    package  build, then write out/packages/VdpaPS.<version>.nupkg
    lab      boot the lab kernel and run -Command in it (sets the lab up first when needed)
    demo     the README's main job: the runbook in docs/examples, run in the lab kernel
    bench    benchmarks; figures printed and written to docs/performance.md
    record   record the lab kernel's raw vdpa replies into the core's unit-test fixtures
             (-Kernel 6.1: into tests/VdpaPS.Netlink.Tests/Fixtures/6.1)
    clean    remove out/ and every bin/ and obj/

.EXAMPLE
    dotnet pwsh ./build.ps1 test

.EXAMPLE
    dotnet pwsh ./build.ps1 test -Kernel 6.12 -LabPath tests/EndToEnd/Lifecycle.Tests.ps1 -FullName '*-Force*'

.EXAMPLE
    dotnet pwsh ./build.ps1 lab -Command 'vdpa -j mgmtdev show'

.EXAMPLE
    dotnet pwsh ./build.ps1 lab -Kernel 6.1 -Modules vduse,sim,pci -Command 'vdpa -j mgmtdev show'
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

    # lab: kernel modules to load, comma-separated: vduse, sim, virtio, vhost, noprobe, pci, sriov (SR-IOV PFs: qemu 11 and
    # q35, with pci laid out for q35), and ssh (sshd for remoting); all of them go together.
    [string] $Modules = 'vduse,sim',

    # lab, demo, record: the lab kernel series to boot (default 6.12). test: the series to run the end-to-end
    # tests on (default both, 6.12 then 6.1).
    [ValidateSet('6.1', '6.12')]
    [string[]] $Kernel,

    # lab: seconds before the guest is stopped.
    [int] $TimeoutSec = 1800,

    # lab: a host folder the guest can write to (mounted at the same path).
    [string] $OutputPath,

    # test: skip the lab-kernel tests (for quick local iterations only; CI never passes it).
    [switch] $SkipLab,

    # test: run only this file or folder of tests/EndToEnd in the lab (the inner loop: no host suites, no self-test).
    [string] $LabPath,

    # test: run only the lab tests whose full name (Describe, Context and It names joined by dots) matches this
    # wildcard pattern, e.g. '*Remove-VdpaDevice*' (the inner loop, as -LabPath).
    [string] $FullName
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$TimeoutGiven = $PSBoundParameters.ContainsKey('TimeoutSec')
$Root = $PSScriptRoot
$OutRoot = Join-Path $Root 'out'
# Where each lab boot's time went, printed with the summary (Add-BootTimeReport).
$script:TimeReport = [System.Collections.Generic.List[string]]::new()

# Write-Step, Invoke-Native, Format-ShellWord: shared with the benchmark scripts.
Import-Module (Join-Path $Root 'tests/tools/BuildCommon.psm1') -Force

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw (Join-Path $Root 'Directory.Build.props'))
    return $props.Project.PropertyGroup.Version | Where-Object { $_ } | Select-Object -First 1
}

function Get-ModuleOutputPath {
    return Join-Path $OutRoot "VdpaPS/$(Get-ModuleVersion)"
}

function Get-PesterModulePath {
    $project = Join-Path $Root 'tests/tools/PesterDownload.csproj'
    Invoke-Native dotnet restore $project --verbosity quiet
    # PesterDownload.csproj pins the version ([x.y.z]): the one place it is written.
    $version = ([xml](Get-Content -Raw $project)).SelectSingleNode("//PackageDownload[@Include='Pester']").GetAttribute('Version').Trim('[]')
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $path = Join-Path $nugetRoot "pester/$version/tools/Pester.psd1"
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
    # Every suite adds one row; a tooling failure (build, restore, lab setup) adds a failed row instead of
    # ending the run silently, and the summary with its final line is printed whatever happened.
    $summary = [System.Collections.Generic.List[object]]::new()
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        Invoke-TestSuites $summary
    } catch {
        $summary.Add((New-SuiteRow -Suite 'test tooling' -Note "stopped the run: $($_.Exception.Message)" -Broken))
    }
    $failed = Write-TestSummary $summary $watch.Elapsed
    if ($failed) { exit 1 }
}

function Invoke-TestSuites([System.Collections.Generic.List[object]] $Summary) {
    $kernels = @(if (-not $SkipLab) { Get-TestKernel })
    # -LabPath or -FullName: the inner loop, only that part of the end-to-end suite (no host suites, no self-test).
    $labOnly = [bool]($LabPath -or $FullName)
    if ($labOnly -and $SkipLab) { throw '-LabPath and -FullName choose lab tests: they do not go with -SkipLab.' }
    Write-SetupPlan -Kernels $kernels
    Invoke-Build
    $results = Join-Path $OutRoot 'test-results'
    Remove-Item -Recurse -Force $results -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $results | Out-Null

    # Test tooling the lab tests load (VDUSE devices and the like); built apart from the module.
    Invoke-Native dotnet build (Join-Path $Root 'tests/VdpaPS.TestTools/VdpaPS.TestTools.csproj') -c $Configuration -o (Join-Path $OutRoot 'testtools') --nologo -v quiet
    $pester = Get-PesterModulePath
    $runner = Join-Path $Root 'tests/Invoke-PesterSuite.ps1'

    # The lab boots start first and run in the background while the host suites run: on 2 cores a boot leaves
    # CPU idle while its guest waits (timeouts, the kernel, 9p), and the host suites and the other boot fill it.
    $select = @('-Path', (Join-Path $Root 'tests/EndToEnd'))
    if ($LabPath) { $select = @('-Path', (Resolve-Path $LabPath -ErrorAction Stop).Path) }
    if ($FullName) { $select += @('-FullName', $FullName) }
    # One boot per kernel with every parent kind: qemu 11 and q35 for `sriov`, `pci` laid out for q35. On 6.1 no PCI net
    # device with CTRL_VQ is bound to virtio_vdpa: its vp_vdpa gives every queue 256 entries, qemu 11 refuses a control
    # queue over 64, and 6.1's virtio_net then spins for ever on its first control command (docs/lab.md, "PCI parents").
    $boots = [System.Collections.Generic.List[object]]::new()
    try {
        foreach ($kernel in $kernels) {
            $boots.Add((Start-TestBoot -Kernel $kernel -Results $results -Pester $pester -Runner $runner -Select $select -LabOnly:$labOnly))
        }
        Start-WaitingBoots $boots

        if (-not $labOnly) {
            # A host suite's tooling failure is a row of its own; the boots still end in their rows.
            try {
                Write-Step 'Core tests (xUnit, against this machine''s kernel)'
                $trx = 'core.trx'
                $watch = [System.Diagnostics.Stopwatch]::StartNew()
                & dotnet test (Join-Path $Root 'tests/VdpaPS.Netlink.Tests/VdpaPS.Netlink.Tests.csproj') -c $Configuration --nologo `
                    --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal' --results-directory $results
                $Summary.Add((Read-TrxSummary (Join-Path $results $trx) 'core (xUnit)' $LASTEXITCODE $watch.Elapsed))

                # The host tests check the boot unit (module/vdpaps-sync.service) with systemd's own checker: a machine without it gets it.
                if (-not (Get-Command systemd-analyze -ErrorAction Ignore) -and (Get-Command apt-get -ErrorAction Ignore)) {
                    Write-Step 'Installing systemd (systemd-analyze checks the boot unit)'
                    Invoke-Native apt-get update -qq
                    Invoke-Native apt-get install -y -qq --no-install-recommends systemd
                }
                # The module's tests, then the example runbook's own Pester test (docs/examples), as a user runs it: no vDPA
                # kernel, VdpaPS mocked.
                foreach ($suite in @(
                        @{ Step = 'Module tests'; Path = 'tests/Module'; Result = 'host.json'; Name = 'module (Pester, host)' }
                        @{ Step = 'Example runbook tests'; Path = 'docs/examples'; Result = 'examples.json'; Name = 'examples (Pester, host)' })) {
                    Write-Step "$($suite.Step) (Pester, on this machine)"
                    $hostResult = Join-Path $results $suite.Result
                    $watch.Restart()
                    $hostExit = Invoke-ChildPwsh $runner @('-PesterPath', $pester, '-ModulePath', (Get-ModuleOutputPath),
                        '-Path', (Join-Path $Root $suite.Path), '-ResultFile', $hostResult)
                    $Summary.Add((Read-SuiteResult $hostResult $suite.Name $hostExit $watch.Elapsed))
                }
            } catch {
                $Summary.Add((New-SuiteRow -Suite 'test tooling' -Note "the host suites stopped: $($_.Exception.Message)" -Broken))
            }
        }

        if ($SkipLab) {
            Write-Warning 'Lab tests skipped (-SkipLab): the kernel end-to-end tests and the lab self-test did not run.'
            return
        }
        Wait-TestBoot $boots
        foreach ($b in $boots) {
            Write-Host ("lab {0}: the boot took {1:N0} s{2}" -f $b.Kernel, $b.Elapsed.TotalSeconds, $(if ($b.Uptime) { " (guest uptime $($b.Uptime[0]) s at the command, $($b.Uptime[1]) s at its end)" }))
            $Summary.Add((Read-SuiteResult $b.E2eResult 'end-to-end (Pester, lab)' $b.ExitCode $b.Elapsed $b.Kernel))
            Add-BootTimeReport $b
            if ($b.SelfTest) {
                # The boot's own exit code is the e2e suite's; the self-test is judged by its result file, unless the lab failed.
                $selfExit = if ($b.ExitCode -in 124, 125) { $b.ExitCode } else { 0 }
                $Summary.Add((Read-SuiteResult $b.SelfResult 'lab self-test (selftest.sh)' $selfExit $null $b.Kernel))
            }
        }
    } finally {
        # A run stopped early (a tooling error) leaves no boot behind: lab.sh, timeout and qemu go with it.
        foreach ($b in $boots) { if ($b.Process -and -not $b.Process.HasExited) { $b.Process.Kill($true) } }
    }
}

function Start-TestBoot {
    # Starts one boot of a lab kernel in the background: the e2e suite (tests/EndToEnd) with every parent type (vduse,
    # the simulator, PCI functions under vp_vdpa, SR-IOV PFs for VF parents, which make it a qemu 11 and q35 boot; sshd
    # for the remoting tests), then the lab's own checks (selftest.sh), which also need virtio_vdpa and vhost_vdpa. Its
    # output goes to a log, printed with the kernel's name before each line by Wait-TestBoot. Returns what Wait-TestBoot needs.
    param([string] $Kernel, [string] $Results, [string] $Pester, [string] $Runner, [string[]] $Select, [switch] $LabOnly)
    $boot = [pscustomobject]@{
        Kernel = $Kernel; E2eResult = (Join-Path $Results "lab-$Kernel.json"); SelfResult = (Join-Path $Results "selftest-$Kernel.json")
        Log = (Join-Path $Results "lab-$Kernel.log"); Process = $null; Watch = $null; ExitCode = 125; Elapsed = [timespan]::Zero
        Uptime = $null; Reader = $null; Pending = ''; Started = $null; SelfTest = -not $LabOnly; Info = $null; What = $null
    }
    $lab = Join-Path $Root 'tests/KernelLab/lab.sh'
    try {
        Invoke-Native bash $lab setup -k $Kernel
    } catch {
        # This kernel's lab could not be set up: both of its suites failed; the other kernel still runs.
        Write-Host "lab ${Kernel}: $($_.Exception.Message)" -ForegroundColor Red
        Set-Content -LiteralPath $boot.Log "lab ${Kernel}: setup failed: $($_.Exception.Message)"
        return $boot
    }
    # `pwsh` in the guest is the lab's direct command for the pinned PowerShell: no SDK tool lookup under emulation.
    $guestCommand = "pwsh -NoProfile -NonInteractive -File $(Format-ShellWord $Runner) " +
        "-PesterPath $(Format-ShellWord $Pester) -ModulePath $(Format-ShellWord (Get-ModuleOutputPath)) " +
        (@($Select | ForEach-Object { Format-ShellWord $_ }) -join ' ') + " -ResultFile $(Format-ShellWord $boot.E2eResult); rc=`$?; "
    if (-not $LabOnly) {
        $guestCommand += 'modprobe -C /dev/null -d "$VDPAPS_LAB_MODROOT" -a virtio_vdpa virtio_net virtio_blk vhost_vdpa; ' +
            "bash tests/KernelLab/selftest.sh --result $(Format-ShellWord $boot.SelfResult); "
    }
    $guestCommand += 'exit $rc'
    # A boot runs the whole suite and the self-test: more than a single command's default limit.
    $timeout = if ($TimeoutGiven) { $TimeoutSec } else { 2700 }
    $info = [System.Diagnostics.ProcessStartInfo]::new('bash')
    # The log takes stdout and stderr (lab.sh's own "lab:" lines, with the guest's uptimes) in the order written.
    # Every parent kind: the simulator, VDUSE, PCI functions, SR-IOV PFs (qemu 11, q35), sshd for remoting.
    foreach ($a in @('-c', 'log=$1; shift; exec bash "$@" > "$log" 2>&1', 'bash', $boot.Log, $lab, 'run', '-k', $Kernel,
            '-m', 'vduse,sim,pci,ssh,sriov', '-t', "$timeout", '-o', $Results, '--', $guestCommand)) { $info.ArgumentList.Add($a) }
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    # One vCPU per guest unless VDPAPS_LAB_SMP says otherwise: two guests of 2 vCPUs on 2 cores oversubscribe qemu's
    # vCPU threads, and the whole run took 1,406 s with 2 each against 960 s with 1 each (docs/lab.md).
    if (-not $env:VDPAPS_LAB_SMP) { $info.Environment['VDPAPS_LAB_SMP'] = '1' }
    $boot.Info = $info
    $boot.What = "the end-to-end tests$(if (-not $LabOnly) { ' and the lab self-test' }) (log: $($boot.Log))"
    return $boot
}

# How many guests run at once: one per core. Each guest has one vCPU; more vCPU threads than cores cost qemu more CPU
# for the same work (docs/lab.md: four guests beside the host suites on 2 cores took 1,685 s of CPU for what two at a
# time do in less), so the others wait for a free core. VDPAPS_LAB_BOOTS overrides it.
function Get-LabBootLimit {
    if ($env:VDPAPS_LAB_BOOTS -as [int]) { return [math]::Max(1, [int]$env:VDPAPS_LAB_BOOTS) }
    return [math]::Max(1, [Environment]::ProcessorCount)
}

function Start-WaitingBoots([System.Collections.Generic.List[object]] $Boots) {
    # Starts boots that wait (set up, not started), in their order, while fewer than the limit run.
    $running = @($Boots | Where-Object { $_.Process -and -not $_.Process.HasExited }).Count
    foreach ($b in $Boots) {
        if ($running -ge (Get-LabBootLimit)) { return }
        if ($b.Process -or -not $b.Info) { continue }
        Write-Step "Lab $($b.Kernel) boot started: $($b.What)"
        $b.Watch = [System.Diagnostics.Stopwatch]::StartNew()
        $b.Started = [datetime]::Now
        $b.Process = [System.Diagnostics.Process]::Start($b.Info)
        $b.Process.StandardInput.Close()
        $running++
    }
}

function Wait-TestBoot([System.Collections.Generic.List[object]] $Boots) {
    # Prints each boot's log as it grows, every line after its kernel's name, until every boot has ended.
    Write-Step "Waiting for the lab boot(s) of $(@($Boots.Kernel) -join ' and '); their lines start with the kernel's name"
    function Write-NewLines($b, [switch] $Final) {
        if (-not $b.Reader) {
            if (-not (Test-Path -LiteralPath $b.Log)) { return }
            $b.Reader = [System.IO.StreamReader]::new([System.IO.FileStream]::new($b.Log, 'Open', 'Read', 'ReadWrite'))
        }
        $text = $b.Pending + $b.Reader.ReadToEnd()
        if (-not $text) { return }
        $lines = [System.Collections.Generic.List[string]]::new([string[]]($text -split '\r?\n'))
        # The last piece is a line still being written, unless the boot has ended.
        $b.Pending = if ($Final) { '' } else { $lines[$lines.Count - 1] }
        if (-not $Final -or $lines[$lines.Count - 1] -eq '') { $lines.RemoveAt($lines.Count - 1) }
        foreach ($line in $lines) { Write-Host "[$($b.Kernel)] $line" }
    }
    while ($true) {
        Start-WaitingBoots $Boots
        $running = @($Boots | Where-Object { $_.Info -and -not $_.Process }).Count
        foreach ($b in $Boots) {
            if (-not $b.Process -or $b.Watch -eq $null) { continue }
            if (-not $b.Process.HasExited) { $running++ }
            elseif (-not $b.Watch.IsRunning) { continue }
            else {
                $b.Process.WaitForExit()
                $b.Watch.Stop()
                # The boot's own length, not until this loop first looked (after the host suites).
                $b.Elapsed = [datetime]$b.Process.ExitTime - [datetime]$b.Started
                $b.ExitCode = $b.Process.ExitCode
            }
            Write-NewLines $b -Final:(-not $b.Watch.IsRunning)
        }
        if ($running -eq 0) { break }
        Start-Sleep -Milliseconds 500
    }
    foreach ($b in $Boots) {
        if ($b.Reader) { $b.Reader.Dispose() }
        if (Test-Path -LiteralPath $b.Log) {
            $m = [regex]::Match((Get-Content -Raw -LiteralPath $b.Log), 'guest uptime ([\d.]+)s at the command, ([\d.]+)s at its end')
            if ($m.Success) { $b.Uptime = @([double]$m.Groups[1].Value, [double]$m.Groups[2].Value) }
        }
    }
}

function Add-BootTimeReport($Boot) {
    # Where a boot's time went (issue 26), for the summary: the guest's uptimes (lab.sh), the e2e runner's phases
    # and its ten slowest tests (tests/Invoke-PesterSuite.ps1), the self-test's duration. What a failed boot
    # did not report is left out.
    function Read-Json([string] $Path) {
        if (Test-Path -LiteralPath $Path) { try { return Get-Content -Raw -LiteralPath $Path | ConvertFrom-Json } catch { } }
    }
    $e2e = Read-Json $Boot.E2eResult
    $self = Read-Json $Boot.SelfResult
    $parts = [System.Collections.Generic.List[string]]::new()
    $add = { param($Name, $Seconds) if ($null -ne $Seconds) { $parts.Add(('{0} {1:N1}' -f $Name, [double]$Seconds)) } }
    $phases = if ($e2e -and $e2e.PSObject.Properties['Phases']) { $e2e.Phases }
    if ($Boot.Uptime) { & $add 'boot to the command' $Boot.Uptime[0] }
    if ($phases) {
        & $add 'pwsh start' $phases.PwshStart; & $add 'Pester import' $phases.PesterImport; & $add 'discovery' $phases.Discovery
        & $add 'tests' $phases.Tests; & $add 'BeforeAll/AfterAll and Pester' $phases.SetupAndTeardown
    }
    $selfSeconds = if ($self -and $self.PSObject.Properties['Duration']) { [double]$self.Duration }
    & $add 'self-test' $selfSeconds
    if ($Boot.Uptime -and $phases) {
        & $add 'the rest of the command' ($Boot.Uptime[1] - $Boot.Uptime[0] - $phases.Total - [double]$selfSeconds)
    }
    if ($Boot.Uptime) { & $add 'qemu start and power-off' ($Boot.Elapsed.TotalSeconds - $Boot.Uptime[1]) }
    $lines = [System.Collections.Generic.List[string]]::new()
    $went = if ($parts.Count) { $parts -join ', ' } else { 'not reported (see the boot''s rows)' }
    $lines.Add(("lab {0}, where the boot's {1:N0} s went (seconds): {2}" -f $Boot.Kernel, $Boot.Elapsed.TotalSeconds, $went))
    if ($e2e -and $e2e.PSObject.Properties['Slowest'] -and $e2e.Slowest) {
        $lines.Add("lab $($Boot.Kernel), the ten slowest end-to-end tests:")
        foreach ($t in $e2e.Slowest) { $lines.Add(('  {0,6:N1} s  {1}' -f [double]$t.Seconds, $t.Name)) }
    }
    if ($e2e -and $e2e.PSObject.Properties['Files'] -and $e2e.Files) {
        # Where BeforeAll/AfterAll cost most: each file's whole time, its tests' part and the rest, longest rest first.
        $lines.Add("lab $($Boot.Kernel), per file (seconds: whole, its tests, the rest: BeforeAll/AfterAll and Pester):")
        foreach ($f in @($e2e.Files | Sort-Object { [double]$_.Seconds - [double]$_.TestSeconds } -Descending)) {
            $lines.Add(('  {0,6:N1} {1,6:N1} {2,6:N1}  {3}' -f [double]$f.Seconds, [double]$f.TestSeconds, ([double]$f.Seconds - [double]$f.TestSeconds), $f.Name))
        }
    }
    $script:TimeReport.AddRange($lines)
}

function Write-SetupPlan([string[]] $Kernels) {
    # Says up front what this run will install or download before it spends minutes doing so.
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    # The packages of the projects a test run builds (the benchmarks' are restored by `bench` only).
    $projects = 'src/VdpaPS/VdpaPS.csproj', 'src/VdpaPS.Netlink/VdpaPS.Netlink.csproj',
        'tests/VdpaPS.Netlink.Tests/VdpaPS.Netlink.Tests.csproj', 'tests/VdpaPS.TestTools/VdpaPS.TestTools.csproj'
    $used = foreach ($p in $projects) { ([xml](Get-Content -Raw (Join-Path $Root $p))).SelectNodes('//PackageReference') | ForEach-Object Include }
    $pinned = @(([xml](Get-Content -Raw (Join-Path $Root 'Directory.Packages.props'))).SelectNodes('//PackageVersion') |
        Where-Object { $_.GetAttribute('Include') -in $used }) +
        @(([xml](Get-Content -Raw (Join-Path $Root 'tests/tools/PesterDownload.csproj'))).SelectNodes('//PackageDownload'))
    $missing = @(foreach ($p in $pinned) {
        $version = $p.GetAttribute('Version').Trim('[]')
        if (-not (Test-Path (Join-Path $nugetRoot "$($p.GetAttribute('Include').ToLowerInvariant())/$version"))) { "$($p.GetAttribute('Include')) $version" }
    })
    $plan = [System.Collections.Generic.List[string]]::new()
    if ($missing) { $plan.Add("restore NuGet packages into ${nugetRoot}: $($missing -join ', ') (and what they depend on)") }
    if (-not (Get-Command systemd-analyze -ErrorAction Ignore)) { $plan.Add('install systemd with apt-get (systemd-analyze checks the boot unit)') }
    foreach ($k in $Kernels) {
        foreach ($line in (& bash (Join-Path $Root 'tests/KernelLab/lab.sh') plan -k $k)) { if ($line -and -not $plan.Contains($line)) { $plan.Add($line) } }
    }
    if ($plan.Count -eq 0) { Write-Step 'Nothing to install or download: packages and the lab are ready'; return }
    Write-Step 'Before the tests, this run will:'
    foreach ($line in $plan) { Write-Host "    - $line" }
}

function Get-TestKernel {
    # test: every kernel series the lab has unless -Kernel names some; the other tasks boot one (6.12 by default).
    if ($Task -eq 'test') { if ($Kernel) { return $Kernel } else { return @('6.12', '6.1') } }
    if (-not $Kernel) { return '6.12' }
    if ($Kernel.Count -gt 1) { throw "The $Task task boots one kernel: give -Kernel 6.12 or -Kernel 6.1, not $($Kernel -join ', ')." }
    return $Kernel[0]
}

function New-SuiteRow {
    param([string] $Suite, [string] $Kernel = '', [int] $Passed, [int] $Failed, [int] $Skipped,
        [Nullable[timespan]] $Time, [string] $Note = '', [switch] $Broken)
    $seconds = if ($null -ne $Time) { [int][math]::Round($Time.TotalSeconds) } else { $null }
    return [pscustomobject]@{
        Suite = $Suite; Kernel = $Kernel; Passed = $Passed; Failed = $Failed; Skipped = $Skipped
        Seconds = $seconds; Result = if ($Broken -or $Failed -gt 0) { 'FAILED' } else { 'passed' }; Note = $Note
    }
}

function Write-TestSummary([System.Collections.Generic.List[object]] $Summary, [timespan] $Elapsed) {
    # Returns $true when the run failed. A suite that crashed, reported nothing or lost its result file has
    # no failed test to count, yet failed: it counts as one failure in the final line, never as "0 failed".
    Write-Host ''
    foreach ($line in $script:TimeReport) { Write-Host $line }
    $Summary | Format-Table -AutoSize -Wrap Suite, Kernel, Passed, Failed, Skipped, Seconds, Result, Note | Out-Host
    $passed = [int]($Summary | Measure-Object Passed -Sum).Sum
    $skipped = [int]($Summary | Measure-Object Skipped -Sum).Sum
    $failed = 0
    foreach ($row in $Summary) {
        if ($row.Result -ne 'passed') {
            $failed += [math]::Max(1, $row.Failed)
            if ($row.Failed -eq 0) { Write-Host "$($row.Suite) $($row.Kernel): $($row.Note); counted as 1 failed" -ForegroundColor Red }
        }
    }
    if ($Summary.Count -eq 0) { $failed = 1 }
    Write-Host ("whole run: {0:N0} s" -f $Elapsed.TotalSeconds)
    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    return ($failed -gt 0 -or $passed -eq 0)
}

function Read-TrxSummary([string] $Path, [string] $Suite, [int] $ExitCode, [Nullable[timespan]] $Time) {
    if (-not (Test-Path $Path)) { return New-SuiteRow -Suite $Suite -Time $Time -Note "no result file (exit code $ExitCode)" -Broken }
    try {
        $c = ([xml](Get-Content -Raw $Path)).TestRun.ResultSummary.Counters
    } catch {
        return New-SuiteRow -Suite $Suite -Time $Time -Note "unreadable result file: $($_.Exception.Message)" -Broken
    }
    $passed = [int]$c.passed
    $failed = [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
    $skipped = [int]$c.notExecuted
    $note = ''
    if ($passed + $failed -eq 0) { $note = 'ran no test' }
    elseif ($ExitCode -ne 0 -and $failed -eq 0) { $note = "exit code $ExitCode without a failed test" }
    return New-SuiteRow -Suite $Suite -Passed $passed -Failed $failed -Skipped $skipped -Time $Time -Note $note -Broken:([bool]$note)
}

function Read-SuiteResult([string] $Path, [string] $Suite, [int] $ExitCode, [Nullable[timespan]] $Time, [string] $Kernel = '') {
    # The JSON that tests/Invoke-PesterSuite.ps1 and tests/KernelLab/selftest.sh write. Read tolerantly: a field
    # that is missing counts as 0 (absent Result: the counts and the exit code decide).
    $lab = if ($ExitCode -eq 124) { 'the lab timed out (exit 124)' } elseif ($ExitCode -eq 125) { 'the lab failed (exit 125)' } else { '' }
    if (-not (Test-Path $Path)) {
        $note = if ($lab) { "$lab; no result file" } else { "no result file (exit code $ExitCode)" }
        return New-SuiteRow -Suite $Suite -Kernel $Kernel -Time $Time -Note $note -Broken
    }
    try {
        $r = Get-Content -Raw $Path | ConvertFrom-Json
        if ($null -eq $r) { throw 'empty file' }
    } catch {
        return New-SuiteRow -Suite $Suite -Kernel $Kernel -Time $Time -Note "unreadable result file: $($_.Exception.Message)" -Broken
    }
    function Get-Count([string] $Name) {
        $p = $r.PSObject.Properties[$Name]
        if ($p -and $null -ne $p.Value) { return [int]$p.Value } else { return 0 }
    }
    $failedBlocks = (Get-Count FailedContainers) + (Get-Count FailedBlocks)
    $passed = Get-Count Passed
    $failed = (Get-Count Failed) + $failedBlocks
    $notRun = (Get-Count NotRun) + (Get-Count Inconclusive)
    $skipped = (Get-Count Skipped) + $notRun
    $result = $r.PSObject.Properties['Result']
    if ($null -eq $Time -and $r.PSObject.Properties['Duration']) { $Time = [timespan]::FromSeconds([double]$r.Duration) }
    $notes = [System.Collections.Generic.List[string]]::new()
    if ($failedBlocks) { $notes.Add("$failedBlocks failed block(s) or file(s) counted as failed") }
    if ($notRun) { $notes.Add("$notRun not run or inconclusive, counted as skipped") }
    $broken = $false
    if ($lab) { $notes.Add($lab); $broken = $true }
    if ($result -and "$($result.Value)" -ne 'Passed') { $notes.Add("result '$($result.Value)'"); $broken = $true }
    if ($passed + $failed -eq 0) { $notes.Add('ran no test'); $broken = $true }
    if ($ExitCode -ne 0 -and $failed -eq 0 -and -not $lab) { $notes.Add("exit code $ExitCode without a failed test"); $broken = $true }
    return New-SuiteRow -Suite $Suite -Kernel $Kernel -Passed $passed -Failed $failed -Skipped $skipped -Time $Time `
        -Note ($notes -join '; ') -Broken:$broken
}

function Invoke-Lab {
    # Boots the lab kernel once and runs LabCommand in it; returns the command's exit code.
    param([string] $LabCommand, [string] $LabModules, [string] $LabOutput, [string] $LabKernel = (Get-TestKernel))
    $lab = Join-Path $Root 'tests/KernelLab/lab.sh'
    Invoke-Native bash $lab setup -k $LabKernel
    $labArgs = @('run', '-k', $LabKernel, '-m', $LabModules, '-t', "$TimeoutSec")
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
            # 6.12's fixtures are the folder itself (the decoder tests' default); other series get a subfolder.
            $series = Get-TestKernel
            $fixtures = Join-Path $Root 'tests/VdpaPS.Netlink.Tests/Fixtures'
            if ($series -ne '6.12') { $fixtures = Join-Path $fixtures $series }
            exit (Invoke-Lab -LabCommand "dotnet $(Format-ShellWord (Join-Path $recorder 'VdpaPS.FixtureRecorder.dll')) $(Format-ShellWord $fixtures)" -LabModules 'vduse,sim,virtio' -LabOutput $fixtures -LabKernel $series)
        }
        'clean' {
            Remove-Item -Recurse -Force $OutRoot -ErrorAction SilentlyContinue
            Get-ChildItem $Root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
        }
    }
} finally {
    Pop-Location
}

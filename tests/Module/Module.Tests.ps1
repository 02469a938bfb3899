# The built module on the host: manifest, exports, and behaviour on a kernel without the vdpa family.
BeforeAll {
    $script:ModuleDir = $env:VDPAPS_MODULE_PATH
    $script:Manifest = Join-Path $ModuleDir 'VdpaPS.psd1'
    Import-Module $Manifest -Force
    . (Join-Path $PSScriptRoot '../tools/VdpaInternals.ps1')
}

Describe 'The module manifest' {
    It 'passes Test-ModuleManifest' {
        $info = Test-ModuleManifest $Manifest
        $info.Name | Should -Be 'VdpaPS'
        $version = ([xml](Get-Content -Raw (Join-Path $PSScriptRoot '../../Directory.Build.props'))).Project.PropertyGroup.Version | Where-Object { $_ }
        $info.Version | Should -Be ([version]$version)
    }

    It 'exports exactly the cmdlets the assembly defines, with no wildcard' {
        $data = Import-PowerShellDataFile $Manifest
        $data.CmdletsToExport | Should -Not -Contain '*'
        $data.FunctionsToExport | Should -HaveCount 0
        $data.VariablesToExport | Should -HaveCount 0
        $assembly = (Get-Module VdpaPS).ImplementingAssembly
        $defined = $assembly.GetExportedTypes() |
            Where-Object { $_.IsSubclassOf([System.Management.Automation.Cmdlet]) -and -not $_.IsAbstract } |
            ForEach-Object { $a = $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]; "$($a.VerbName)-$($a.NounName)" }
        ($data.CmdletsToExport | Sort-Object) | Should -Be ($defined | Sort-Object)
        (Get-Command -Module VdpaPS -CommandType Cmdlet).Name | Sort-Object | Should -Be ($defined | Sort-Object)
    }

    It 'ships Tmds.LibC for x64 and arm64 and loads the one for this process' {
        Test-Path (Join-Path $ModuleDir 'runtimes/linux-x64/Tmds.LibC.dll') | Should -BeTrue
        Test-Path (Join-Path $ModuleDir 'runtimes/linux-arm64/Tmds.LibC.dll') | Should -BeTrue
        # Touching the kernel loads Tmds.LibC through the module's resolver.
        try { Get-VdpaParent } catch { Write-Verbose "no vdpa here: $_" }
        $libc = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Tmds.LibC' }
        $libc | Should -Not -BeNullOrEmpty
        $expected = if ([System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'Arm64') { 'linux-arm64' } else { 'linux-x64' }
        $libc.Location | Should -BeLike "*runtimes/$expected/Tmds.LibC.dll"
    }

    It 'uses only approved verbs and declares an output type on every cmdlet' {
        $approved = (Get-Verb).Verb
        foreach ($command in Get-Command -Module VdpaPS -CommandType Cmdlet) {
            $approved | Should -Contain $command.Verb -Because "$($command.Name) needs an approved verb"
            $command.OutputType | Should -Not -BeNullOrEmpty -Because "$($command.Name) declares [OutputType]"
        }
    }
}

Describe 'On a kernel without the vdpa family' -Skip:(Test-Path /sys/module/vdpa) {
    BeforeAll {
        # Which case this machine is, read here independently of the module: its own kernel config.
        $config = if (Test-Path "/boot/config-$(uname -r)") { Get-Content "/boot/config-$(uname -r)" }
                  elseif (Test-Path /proc/config.gz) { & zcat /proc/config.gz }
        $script:Expected = if ($config -contains '# CONFIG_VDPA is not set') { 'VdpaNotInKernel' }
                           elseif ($config -contains 'CONFIG_VDPA=m') { 'VdpaModuleNotLoaded' }
                           else { 'VdpaModuleNotLoaded' }
    }

    It 'Get-VdpaParent ends with one NotInstalled error that says which case it is (this machine: <Expected>)' {
        $err = $null
        try { Get-VdpaParent } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be "$Expected,VdpaPS.Commands.GetVdpaParentCommand"
        $err.CategoryInfo.Category | Should -Be 'NotInstalled'
        $err.Exception | Should -BeOfType [System.InvalidOperationException]
        if ($Expected -eq 'VdpaNotInKernel') {
            # modprobe cannot help a kernel built without vDPA: the message says so, and where it read that.
            $err.Exception.Message | Should -Match 'built without vDPA'
            $err.Exception.Message | Should -Match 'CONFIG_VDPA is not set'
            $err.Exception.Message | Should -Not -Match 'modprobe vdpa'
        } else {
            $err.Exception.Message | Should -Match 'vDPA support is not loaded'
            $err.Exception.Message | Should -Match 'modprobe vdpa'
        }
    }

    It 'Wait-VdpaParent and Wait-VdpaDevice end with it when no modprobe can help, and wait (bounded) when one can' {
        # Waiting for a module that this kernel cannot load would never end; a module not loaded yet may still come.
        # Where nothing can come the wait gets 30 s, so ending at once is told from waiting without timing the machine
        # (the host suites run at low priority beside the lab boots: a second here can take longer).
        $timeout = if ($Expected -eq 'VdpaNotInKernel') { 30 } else { 1 }
        foreach ($wait in { Wait-VdpaParent vdpasim_net -TimeoutSec $timeout }, { Wait-VdpaDevice vdpa0 -TimeoutSec $timeout }) {
            $err = $null
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            try { & $wait -ErrorAction SilentlyContinue -ErrorVariable written } catch { $err = $_ }
            if ($Expected -eq 'VdpaNotInKernel') {
                $err.FullyQualifiedErrorId | Should -BeLike "$Expected,VdpaPS.Commands.Wait*"
                $watch.Elapsed.TotalSeconds | Should -BeLessThan ($timeout / 2) -Because 'nothing is waited for'
            } else {
                $err | Should -BeNullOrEmpty
                $written[0].FullyQualifiedErrorId | Should -BeLike 'VdpaWaitTimeout,*'
            }
        }
    }

    It 'is a terminating error: the rest of the pipeline and of the statement list does not run' {
        # -ErrorAction Continue: only a terminating error (ThrowTerminatingError) reaches the catch; a
        # non-terminating one would be written to the error stream and the script would go on to $after.
        $ran = $false
        $after = $false
        $caught = $null
        try {
            Get-VdpaParent -ErrorAction Continue -ErrorVariable written 2>$null | ForEach-Object { $ran = $true }
            $after = $true
        } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -Be "$Expected,VdpaPS.Commands.GetVdpaParentCommand"
        # Not an -ErrorAction Stop conversion of a non-terminating error: the cmdlet's own terminating one.
        $caught.Exception | Should -Not -BeOfType [System.Management.Automation.ActionPreferenceStopException]
        $ran | Should -BeFalse
        $after | Should -BeFalse -Because 'a terminating error ends the statement list'
    }
}

Describe 'New-VdpaDevice and the core''s provisioning table' {
    It 'has a parameter for every DEV_NEW attribute the core describes, and no public test hook' {
        $parameters = (Get-Command New-VdpaDevice).Parameters
        foreach ($attribute in (Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VdpaProvisioning)::Attributes) {
            $parameters.Keys | Should -Contain $attribute.Parameter.TrimStart('-') -Because "attribute $($attribute.Id) ($($attribute.Info.UapiName)) is sent by it"
        }
        (Get-Module VdpaPS).ImplementingAssembly.GetExportedTypes().Name | Should -Not -Contain 'VdpaTestHooks'
    }
}

Describe 'The public surface' {
    It 'exports from the core only what users receive: the objects the cmdlets write and take, and what is thrown' {
        $core = [VdpaPS.VdpaDevice].Assembly
        # From each cmdlet's [OutputType] and parameter types, and from every exception, follow the public properties.
        $seen = [System.Collections.Generic.HashSet[type]]::new()
        $queue = [System.Collections.Generic.Queue[type]]::new()
        $roots = @(Get-Command -Module VdpaPS | ForEach-Object { $_.OutputType.Type; $_.Parameters.Values.ParameterType }) +
            @($core.GetExportedTypes() | Where-Object { [Exception].IsAssignableFrom($_) })
        foreach ($t in $roots) { if ($t) { $queue.Enqueue($t) } }
        while ($queue.Count) {
            $t = $queue.Dequeue()
            if ($t.HasElementType) { $t = $t.GetElementType() }
            foreach ($inner in $t.GenericTypeArguments) { $queue.Enqueue($inner) }
            if ($t.Assembly -ne $core -or -not $seen.Add($t)) { continue }
            if ($t.BaseType) { $queue.Enqueue($t.BaseType) }
            foreach ($p in $t.GetProperties()) { $queue.Enqueue($p.PropertyType) }
        }
        $unreached = @($core.GetExportedTypes() | Where-Object { -not $seen.Contains($_) } | ForEach-Object FullName)
        $unreached | Should -BeNullOrEmpty -Because 'a public type no user receives belongs inside the core (internal)'
        $core.GetExportedTypes().Name | Should -Not -Contain 'VdpaClient'
        $core.GetExportedTypes().Name | Should -Not -Contain 'NetlinkConnection'
        (Get-Module VdpaPS).ImplementingAssembly.GetExportedTypes().Name | Should -Not -Contain 'VdpaErrors'
    }
}

Describe 'Device events that cannot be received' {
    It 'says the socket''s failure once, and blames the network namespace only for a process outside the initial one' {
        # Issue 22: a poll failure read "...: netlink poll failed: EAGAIN (Resource temporarily unavailable).. They reach
        # only the initial network namespace." in the host's own namespace.
        $errors = Get-VdpaInternalType VdpaPS.Errors.VdpaErrors
        $poll = [VdpaPS.Netlink.Protocol.NetlinkSocketException]::new('poll', 4)
        $r = $errors::SubscribeFailed($poll, $null)
        $r.FullyQualifiedErrorId | Should -Be 'VdpaEventsUnavailable'
        $r.ErrorDetails.Message | Should -BeExactly "The kernel's device events (NETLINK_KOBJECT_UEVENT) cannot be received: netlink poll failed: EINTR (Interrupted system call)."
        $r.ErrorDetails.RecommendedAction | Should -BeNullOrEmpty

        $r = $errors::SubscribeFailed($poll, 'this process is in network namespace net:[2], not the initial one (net:[1])')
        $r.ErrorDetails.Message | Should -Match 'reach only the initial network namespace, and this process is in network namespace net:\[2\]'
        $r.ErrorDetails.Message | Should -Not -Match '\.\.'
        $r.ErrorDetails.RecommendedAction | Should -Match 'network namespace'
    }
}

Describe 'A kernel refusal as the ErrorRecord a user sees' {
    It 'reads the same on the exception as on the record, and keeps the kernel''s exception inside' {
        # EEXIST as the connection raises it for DEV_NEW (errno, no extended ack, operation): the refusal's shape, not a kernel.
        $kernel = [VdpaPS.Netlink.Protocol.NetlinkException]::new(17, $null, $null, 'vdpa DEV_NEW', $null)
        $spec = (New-VdpaInternalObject VdpaPS.Netlink.Vdpa.VdpaDeviceSpec @{ Name = 'pst-x0'; Parent = 'vdpasim_net' })

        $r = (Get-VdpaInternalType VdpaPS.Errors.VdpaErrors)::FromNetlink($kernel, (Get-VdpaInternalType VdpaPS.Errors.ErrorTarget)::Of($spec), 'Device', $null)

        $r.FullyQualifiedErrorId | Should -Be 'VdpaDeviceExists'
        $r.CategoryInfo.Category | Should -Be 'ResourceExists'
        $r.Exception.Message | Should -BeLike "A vDPA device named 'pst-x0' already exists: the kernel answered EEXIST*"
        $r.Exception.Message | Should -BeExactly "$r"
        $r.Exception | Should -BeOfType [VdpaPS.Netlink.Protocol.NetlinkException]
        $r.Exception.Errno | Should -Be 17
        [object]::ReferenceEquals($r.Exception.InnerException, $kernel) | Should -BeTrue
        $r.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }
}

Describe 'Verbose messages, formatted only when written' {
    # Messages are built only when PowerShell would write them (VdpaCmdlet.VerboseEnabled): none may be lost by that.
    # Compare-VdpaConfiguration says which file it reads before anything else, and a missing file then ends it, so
    # this runs the same with or without vdpa.
    BeforeAll {
        $script:Missing = Join-Path ([IO.Path]::GetTempPath()) "vdpaps-verbose-$([guid]::NewGuid().ToString('n')).json"
        function script:Get-VerboseText([scriptblock] $Run) {
            # The missing file ends the command (a terminating error): what it wrote before is kept as it comes.
            $records = [System.Collections.Generic.List[object]]::new()
            try { & $Run 4>&1 | ForEach-Object { $records.Add($_) } } catch { $_.FullyQualifiedErrorId | Should -BeLike 'VdpaConfigurationFileNotFound,*' }
            @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        }
    }

    It 'are written when <Case>' -ForEach @(
        @{ Case = '-Verbose is given'; Run = { Compare-VdpaConfiguration -Path $Missing -Verbose -ErrorAction SilentlyContinue } }
        @{ Case = '$VerbosePreference is Continue'; Run = { $VerbosePreference = 'Continue'; Compare-VdpaConfiguration -Path $Missing -ErrorAction SilentlyContinue } }
    ) {
        Get-VerboseText $Run | Should -Contain "Reading the configuration file $Missing."
    }

    It 'are not written when <Case>' -ForEach @(
        @{ Case = 'verbose output is off'; Run = { $VerbosePreference = 'SilentlyContinue'; Compare-VdpaConfiguration -Path $Missing -ErrorAction SilentlyContinue } }
        @{ Case = '-Verbose:$false overrides the preference'; Run = { $VerbosePreference = 'Continue'; Compare-VdpaConfiguration -Path $Missing -Verbose:$false -ErrorAction SilentlyContinue } }
    ) {
        Get-VerboseText $Run | Should -BeNullOrEmpty
    }
}

# PowerShell's conventions, checked on the built module without a vDPA kernel: what an error carries, one id per kind,
# ranges and parameter combinations decided by the binder, what binds from the pipeline, one case rule per name kind,
# and nothing hidden without a reason.
BeforeAll {
    Import-Module (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1') -Force
    . (Join-Path $PSScriptRoot '../tools/VdpaInternals.ps1')
    $script:Assembly = (Get-Module VdpaPS).ImplementingAssembly
    $script:Errors = Get-VdpaInternalType VdpaPS.Errors.VdpaErrors
    $script:Target = Get-VdpaInternalType VdpaPS.Errors.ErrorTarget
    $script:Every = [System.Reflection.BindingFlags]'Public, NonPublic, Static, Instance, DeclaredOnly'
    # Every helper that makes an ErrorRecord, found on the helper class: a new one is checked without being listed here.
    $script:Helpers = @($Errors.GetMethods($Every) | Where-Object { $_.ReturnType -eq [System.Management.Automation.ErrorRecord] })

    function Test-PublicType([type] $Type) {
        if ($Type.IsArray) { return Test-PublicType $Type.GetElementType() }
        if (-not ($Type.IsPublic -or ($Type.IsNestedPublic -and (Test-PublicType $Type.DeclaringType)))) { return $false }
        foreach ($argument in $Type.GenericTypeArguments) { if (-not (Test-PublicType $argument)) { return $false } }
        return $true
    }

    # One sample value of a parameter's type, built the way any caller could (its smallest constructor), from no list of
    # the helpers' types. An ErrorTarget is sampled by Get-TargetSamples instead: every way it can be made.
    function New-Sample([type] $Type, [int] $Depth = 0) {
        if ($Depth -gt 4) { throw "No sample for $Type (too deep)." }
        if ($Type -eq [string]) { return , 'pst-x0' }
        if ($Type -eq [bool]) { return , $true }
        if ($Type.IsEnum) { return , ([Enum]::GetValues($Type)[0]) }
        if ($Type.IsPrimitive) { return , ([Convert]::ChangeType(1, $Type)) }
        if ([Nullable]::GetUnderlyingType($Type)) { return , (New-Sample ([Nullable]::GetUnderlyingType($Type)) ($Depth + 1)) }
        if ($Type.IsArray) {
            $array = [Array]::CreateInstance($Type.GetElementType(), 1)
            $array[0] = @(New-Sample $Type.GetElementType() ($Depth + 1))[0]
            return , $array
        }
        if ($Type.IsInterface -and $Type.IsGenericType) {
            return , (New-Sample ($Type.GenericTypeArguments[0].MakeArrayType()) ($Depth + 1))
        }
        # Not a record's copy constructor, which needs what it makes.
        $ctor = $Type.GetConstructors([System.Reflection.BindingFlags]'Public, NonPublic, Instance') |
            Where-Object { $_.GetParameters().ParameterType -notcontains $Type } | Sort-Object { $_.GetParameters().Count } | Select-Object -First 1
        if (-not $ctor) { throw "No sample for $Type." }
        $arguments = [object[]]@(foreach ($p in $ctor.GetParameters()) { , @(New-Sample $p.ParameterType ($Depth + 1))[0] })
        return , $ctor.Invoke($arguments)
    }

    # Every ErrorTarget a caller can make.
    function Get-TargetSamples {
        $ways = @($Target.GetMethods([System.Reflection.BindingFlags]'Public, Static') | Where-Object ReturnType -EQ $Target)
        foreach ($way in $ways) {
            $arguments = [object[]]@(foreach ($p in $way.GetParameters()) { , @(New-Sample $p.ParameterType 1)[0] })
            [pscustomobject]@{ Way = "$($way.Name)($($way.GetParameters().ParameterType.Name -join ', '))"; Value = $way.Invoke($null, $arguments) }
        }
        [pscustomobject]@{ Way = 'default'; Value = [Activator]::CreateInstance($Target) }
    }

    # The ErrorRecords of one helper: once per way to make its target, with samples for the rest.
    function Invoke-Helper([System.Reflection.MethodInfo] $Method) {
        $parameters = $Method.GetParameters()
        $targets = @(if ($parameters.ParameterType -contains $Target) { Get-TargetSamples } else { [pscustomobject]@{ Way = 'none'; Value = $null } })
        foreach ($t in $targets) {
            $arguments = [object[]]::new($parameters.Count)
            for ($i = 0; $i -lt $parameters.Count; $i++) {
                # Assigned, not taken from an if's output: the pipeline would unroll an array argument.
                if ($parameters[$i].ParameterType -eq $Target) { $arguments[$i] = $t.Value } else { $arguments[$i] = @(New-Sample $parameters[$i].ParameterType)[0] }
            }
            [pscustomobject]@{ Helper = $Method.Name; Way = $t.Way; Record = $Method.Invoke($null, $arguments) }
        }
    }

    # The methods and constructors whose IL creates an ErrorRecord (newobj of any of its constructors).
    function Get-ErrorRecordBuilder {
        $ctors = [System.Management.Automation.ErrorRecord].GetConstructors([System.Reflection.BindingFlags]'Public, NonPublic, Instance')
        foreach ($type in $Assembly.GetTypes()) {
            foreach ($member in @($type.GetMethods($Every)) + @($type.GetConstructors($Every))) {
                $il = try { $member.GetMethodBody()?.GetILAsByteArray() } catch { $null }
                if (-not $il) { continue }
                for ($i = 0; $i -lt $il.Length - 4; $i++) {
                    if ($il[$i] -ne 0x73) { continue } # newobj
                    $token = [BitConverter]::ToInt32($il, $i + 1)
                    $called = try { $type.Module.ResolveMethod($token) } catch { $null }
                    if ($called -and $ctors -contains $called) { "$($type.FullName)::$($member.Name)" }
                }
            }
        }
    }
}

Describe 'What an error a cmdlet writes carries' {
    It 'is built by the error helpers alone (found in the IL of every method of the module)' {
        $builders = @(Get-ErrorRecordBuilder | Sort-Object -Unique)
        $builders | Should -Not -BeNullOrEmpty
        # The helper class and what the compiler makes inside it (lambdas, closures).
        $builders | Where-Object { $_ -notlike 'VdpaPS.Errors.VdpaErrors::*' -and $_ -notlike 'VdpaPS.Errors.VdpaErrors+*' } | Should -BeNullOrEmpty
    }

    It 'is made by helpers that take no untyped target' {
        $Helpers | Should -Not -BeNullOrEmpty
        @(foreach ($m in $Helpers) { foreach ($p in $m.GetParameters()) { if ($p.ParameterType -eq [object]) { "$($m.Name)($($p.Name))" } } }) | Should -BeNullOrEmpty
    }

    It 'has a TargetObject of a public type, from every helper and every way to make its target' {
        $made = @(foreach ($m in $Helpers) { Invoke-Helper $m })
        $made.Count | Should -BeGreaterOrEqual $Helpers.Count
        $internal = @($made | Where-Object { $null -ne $_.Record.TargetObject -and -not (Test-PublicType $_.Record.TargetObject.GetType()) } |
                ForEach-Object { "$($_.Helper) with target $($_.Way): $($_.Record.TargetObject.GetType().FullName)" })
        $internal | Should -BeNullOrEmpty
    }

    It 'shows a DEV_NEW''s device and a queue''s device by name, not as the internal request' {
        $spec = New-VdpaInternalObject VdpaPS.Netlink.Vdpa.VdpaDeviceSpec @{ Name = 'pst-x0'; Parent = 'vdpasim_net' }
        $kernel = [VdpaPS.Netlink.Protocol.NetlinkException]::new(17, $null, $null, 'vdpa DEV_NEW', $null)
        $r = $Errors::FromNetlink($kernel, $Target::Of($spec), 'Device', $null)
        $r.TargetObject | Should -BeExactly 'pst-x0'
        "$r" | Should -BeLike "A vDPA device named 'pst-x0' already exists*"
        $queue = New-VdpaInternalObject VdpaPS.Netlink.Vdpa.VdpaQueueTarget -ArgumentList 'pst-x1', 3
        $r = $Errors::FromNetlink([VdpaPS.Netlink.Protocol.NetlinkException]::new(34, 'queue index exceeds max value', $null, 'vdpa DEV_VSTATS_GET', $null), $Target::Of($queue), 'Device', $null)
        $r.TargetObject | Should -BeExactly 'pst-x1'
        "$r" | Should -Match "vDPA device 'pst-x1'"
    }
}

Describe 'Error ids and categories' {
    It 'gives each kind of kernel error its own id' {
        $kinds = [Enum]::GetValues((Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VdpaErrorKind))
        $byId = $kinds | Group-Object { $Errors::IdOf($_).Item1 } | Where-Object Count -GT 1
        # Only the kinds the core cannot name share the catch-all id.
        @($byId | Where-Object Name -NE 'VdpaKernelError' | ForEach-Object { "$($_.Name): $($_.Group -join ', ')" }) | Should -BeNullOrEmpty
    }

    It 'has no two constants for one id' {
        $ids = $Errors.GetFields([System.Reflection.BindingFlags]'Public, NonPublic, Static') | Where-Object IsLiteral | ForEach-Object { $_.GetValue($null) }
        @($ids | Group-Object | Where-Object Count -GT 1).Name | Should -BeNullOrEmpty
    }

    It 'maps a request that timed out to VdpaRequestTimedOut (OperationTimeout)' {
        $r = $Errors::IdOf('TimedOut')
        $r.Item1 | Should -Be 'VdpaRequestTimedOut'
        "$($r.Item2)" | Should -Be 'OperationTimeout'
    }

    It 'says InvalidResult for a value the kernel took and did not apply, and InvalidOperation for a device that needs recreating' {
        "$($Errors::IdOf('AttributeNotApplied').Item2)" | Should -Be 'InvalidResult'
        "$($Errors::NotApplied('-Mtu was not applied', 'pst-x0').CategoryInfo.Category)" | Should -Be 'InvalidResult'
        $r = $Errors::NeedsRecreate('pst-x0', [VdpaPS.VdpaConfigurationDifference[]]@([VdpaPS.VdpaConfigurationDifference]@{ Name = 'pst-x0'; Attribute = 'mtu' }))
        $r.FullyQualifiedErrorId | Should -Be 'VdpaDeviceNeedsRecreate'
        "$($r.CategoryInfo.Category)" | Should -Be 'InvalidOperation'
    }
}

Describe 'Parameters the binder checks' {
    It '<Command> -<Parameter> <Value> is refused by its [ValidateRange]: <Refused>' -ForEach @(
        @{ Command = 'New-VdpaDevice'; Parameter = 'Mtu'; Value = 0; Refused = $true }
        @{ Command = 'New-VdpaDevice'; Parameter = 'Mtu'; Value = 67; Refused = $true }
        @{ Command = 'New-VdpaDevice'; Parameter = 'Mtu'; Value = 68; Refused = $false }
        @{ Command = 'New-VdpaDevice'; Parameter = 'Mtu'; Value = 65535; Refused = $false }
        @{ Command = 'New-VdpaDevice'; Parameter = 'Mtu'; Value = 65536; Refused = $true }
        @{ Command = 'New-VdpaDevice'; Parameter = 'MaxQueuePairs'; Value = 0; Refused = $true }
        @{ Command = 'New-VdpaDevice'; Parameter = 'MaxQueuePairs'; Value = 1; Refused = $false }
        @{ Command = 'New-VdpaDevice'; Parameter = 'MaxQueuePairs'; Value = 32768; Refused = $false }
        @{ Command = 'New-VdpaDevice'; Parameter = 'MaxQueuePairs'; Value = 32769; Refused = $true }
        @{ Command = 'Get-VdpaStats'; Parameter = 'QueueIndex'; Value = -1; Refused = $true }
        @{ Command = 'Get-VdpaStats'; Parameter = 'QueueIndex'; Value = 0; Refused = $false }
        @{ Command = 'Get-VdpaStats'; Parameter = 'QueueIndex'; Value = 32768; Refused = $false }
        @{ Command = 'Get-VdpaStats'; Parameter = 'QueueIndex'; Value = 32769; Refused = $true }
    ) {
        $a = @{ Name = 'pst-x0'; $Parameter = $Value; ErrorAction = 'Stop' }
        if ($Command -eq 'New-VdpaDevice') { $a.Parent = 'vdpasim_net' }
        # No vdpa family here: a value the binder lets through ends at the kernel's absence instead.
        $caught = $null
        try { & $Command @a } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        ($caught.FullyQualifiedErrorId -like 'ParameterArgumentValidationError,*') | Should -Be $Refused
        if ($Refused) { "$($caught.CategoryInfo.Category)" | Should -Be 'InvalidData' }
    }

    It 'takes Wait-VdpaDevice -Driver in its own parameter set, without -State' {
        $sets = (Get-Command Wait-VdpaDevice).ParameterSets
        $driver = $sets | Where-Object { $_.Parameters.Name -contains 'Driver' }
        $driver | Should -HaveCount 1
        $driver.Parameters.Name | Should -Not -Contain 'State'
        ($driver.Parameters | Where-Object Name -EQ 'Driver').IsMandatory | Should -BeTrue
        { Wait-VdpaDevice pst-x0 -State Absent -Driver vhost_vdpa -TimeoutSec 1 } | Should -Throw -ErrorId 'AmbiguousParameterSet,VdpaPS.Commands.WaitVdpaDeviceCommand'
    }
}

Describe 'What binds from the pipeline' {
    BeforeAll {
        # PowerShell's own trace of the binding: which piped value went to which parameter. The command then ends at this
        # host's lack of a vdpa family, after binding.
        function Get-BindingTrace([scriptblock] $Run) {
            $file = New-TemporaryFile
            try {
                try { Trace-Command -Name ParameterBinding -FilePath $file.FullName -Expression $Run } catch { $_.FullyQualifiedErrorId | Should -Not -BeLike 'InputObjectNotBound*' }
                return Get-Content -Raw $file.FullName
            } finally { Remove-Item $file }
        }
    }

    It 'gives Remove-VdpaDevice piped names by value' {
        $trace = Get-BindingTrace { 'pst-x0' | Remove-VdpaDevice -WhatIf -ErrorAction Stop }
        $trace | Should -Match 'Parameter \[Name\] PIPELINE INPUT ValueFromPipeline NO COERCION'
        $trace | Should -Match 'BIND arg \[pst-x0\] to parameter \[Name\]'
        $trace | Should -Match 'to param \[Name\] SUCCESSFUL'
    }

    It 'gives a Compare-VdpaConfiguration difference''s Name to Remove-VdpaDevice and Get-VdpaDeviceConfig by property name' {
        $difference = [VdpaPS.VdpaConfigurationDifference]@{ Name = 'pst-x2'; Change = 'NotInFile' }
        foreach ($run in { $difference | Remove-VdpaDevice -WhatIf -ErrorAction Stop }, { $difference | Get-VdpaDeviceConfig -ErrorAction Stop }) {
            $trace = Get-BindingTrace $run
            $trace | Should -Match 'Parameter \[Name\] PIPELINE INPUT ValueFromPipelineByPropertyName NO COERCION'
            $trace | Should -Match 'BIND arg \[pst-x2\] to parameter \[Name\]'
        }
    }
}

Describe 'Names' {
    It 'matches a device name with case, as the kernel''s DEV_GET of a literal name does, and a parent''s in any case' {
        $pattern = [VdpaPS.Cmdlets.VdpaCmdlet].GetMethod('NamePattern', [System.Reflection.BindingFlags]'NonPublic, Static')
        $kind = Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VdpaTargetKind
        $pattern.Invoke($null, @('VDPA*', [Enum]::Parse($kind, 'Device'))).IsMatch('vdpa0') | Should -BeFalse
        $pattern.Invoke($null, @('vdpa*', [Enum]::Parse($kind, 'Device'))).IsMatch('vdpa0') | Should -BeTrue
        $pattern.Invoke($null, @('VDPASIM_*', [Enum]::Parse($kind, 'Parent'))).IsMatch('vdpasim_net') | Should -BeTrue
    }
}

Describe 'Nothing hidden without a reason' {
    BeforeAll {
        $script:Sources = Get-ChildItem (Join-Path $PSScriptRoot '../../src') -Recurse -Filter *.cs | Where-Object FullName -NotMatch '/(obj|bin)/'
        # The lines just above a property's declaration in its source: where the reason is written.
        function Get-DeclarationComment([string] $Property, [string] $Class) {
            foreach ($file in $Sources) {
                $lines = Get-Content $file.FullName
                if (-not ($lines -match "\b(class|record)\s+$Class\b")) { continue }
                for ($i = 0; $i -lt $lines.Count; $i++) {
                    if ($lines[$i] -match "^\s*public [^(]*\b$Property\s*(\{|=>)") {
                        $start = $i
                        while ($start -gt 0 -and $lines[$start - 1] -match '^\s*(///|//|\[)') { $start-- }
                        return ($lines[$start..($i - 1)] -join "`n")
                    }
                }
            }
            throw "No declaration of $Class.$Property in src/."
        }
    }

    It 'says why for each hidden parameter' {
        $hidden = foreach ($command in Get-Command -Module VdpaPS) {
            foreach ($p in $command.Parameters.Values) {
                if ($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow }) {
                    [pscustomobject]@{ Class = $command.ImplementingType.Name; Property = $p.Name }
                }
            }
        }
        foreach ($h in $hidden) { Get-DeclarationComment $h.Property $h.Class | Should -Match 'Hidden, because' -Because "$($h.Class).$($h.Property) is hidden" }
    }

    It 'says why for each output property that only repeats another (an alias for binding)' {
        $aliases = foreach ($type in [VdpaPS.VdpaDevice].Assembly.GetExportedTypes() | Where-Object { $_.Namespace -eq 'VdpaPS' -and $_.IsClass -and $_.GetConstructor([type]::EmptyTypes) }) {
            $sample = [Activator]::CreateInstance($type)
            $i = 0
            $settable = @($type.GetProperties() | Where-Object { $_.PropertyType -eq [string] -and $_.SetMethod })
            foreach ($p in $settable) { $p.SetValue($sample, "value$((++$i))") }
            $values = $settable | ForEach-Object { $_.GetValue($sample) }
            foreach ($p in $type.GetProperties() | Where-Object { $_.PropertyType -eq [string] -and -not $_.SetMethod }) {
                if ($values -ccontains $p.GetValue($sample)) { [pscustomobject]@{ Class = $type.Name; Property = $p.Name } }
            }
        }
        $aliases | Should -Not -BeNullOrEmpty -Because 'VdpaParent.ParentName is one'
        foreach ($a in $aliases) { Get-DeclarationComment $a.Property $a.Class | Should -Match 'Why a second name' -Because "$($a.Class).$($a.Property) repeats another property" }
    }
}

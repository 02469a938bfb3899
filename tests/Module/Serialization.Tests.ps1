# Output objects survive PowerShell serialization and still format with the module's views, so a fleet can be
# queried with Invoke-Command. Objects are built by hand (the types have settable properties): this is about
# serialization and formatting, not the kernel.
#
# Two ways across: Export-Clixml/Import-Clixml (depth 2, the cmdlets' default) and a background job, which
# crosses a process boundary over the remoting protocol, as Invoke-Command does (depth 1 unless a type asks
# for more).
BeforeDiscovery {
    $script:Transports = @(@{ Transport = 'Export-Clixml/Import-Clixml' }, @{ Transport = 'a job (remoting protocol)' })
}

BeforeAll {
    $script:ModuleDir = $env:VDPAPS_MODULE_PATH
    Import-Module (Join-Path $ModuleDir 'VdpaPS.psd1') -Force
    . (Join-Path $PSScriptRoot '../tools/VdpaInternals.ps1')

    # Builds the samples; run here and inside the job, so both sides have the same objects.
    $script:NewSamples = {
        param([string] $ModuleDir)
        Import-Module (Join-Path $ModuleDir 'VdpaPS.psd1')
        # The model types live in VdpaPS.Netlink.dll, which loads on first use; resolving an output type loads it.
        $null = (Get-Command Get-VdpaDevice).OutputType.Type
        # Feature masks come from the names, with the bit numbers of the kernel's uapi headers (virtio_config.h,
        # virtio_net.h, virtio_blk.h), so a sample's mask and names always describe the same features.
        $bits = @{
            CSUM = 0; MTU = 3; MAC = 5; STATUS = 16; CTRL_VQ = 17; MQ = 22; VERSION_1 = 32; ACCESS_PLATFORM = 33
            SIZE_MAX = 1; SEG_MAX = 2; BLK_SIZE = 6; FLUSH = 9
        }
        function Get-Mask([string[]] $Names) {
            [uint64] $mask = 0
            foreach ($n in $Names) { $mask = $mask -bor ([uint64]1 -shl $bits[$n]) }
            return $mask
        }
        $parentFeatures = 'CSUM', 'MTU', 'MAC', 'STATUS', 'CTRL_VQ', 'MQ', 'VERSION_1', 'ACCESS_PLATFORM'
        $netDevice = 'MTU', 'MAC', 'STATUS', 'CTRL_VQ', 'MQ', 'VERSION_1'
        $netNegotiated = 'MTU', 'MAC', 'STATUS', 'VERSION_1'
        $blockDevice = 'SIZE_MAX', 'SEG_MAX', 'BLK_SIZE', 'FLUSH', 'VERSION_1'
        $statsNegotiated = 'MAC', 'VERSION_1'
        $rx = [VdpaPS.VdpaCounter[]]@(
            [VdpaPS.VdpaCounter]::new('rx packets', 1234567), [VdpaPS.VdpaCounter]::new('rx bytes', 98765432109),
            [VdpaPS.VdpaCounter]::new('rx errors', 0), [VdpaPS.VdpaCounter]::new('rx overruns', 2), [VdpaPS.VdpaCounter]::new('rx drops', 3))
        [ordered]@{
            HardwareParent = [VdpaPS.VdpaParent]@{
                Name = 'pci/0000:03:00.2'; BusName = 'pci'; DeviceName = '0000:03:00.2'
                SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net'); SupportedClassMask = 2; MaxQueues = 257
                SupportedFeatures = $parentFeatures
                SupportedFeatureMask = Get-Mask $parentFeatures
            }
            MultiClassParent = [VdpaPS.VdpaParent]@{
                Name = 'vduse'; DeviceName = 'vduse'; SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net', 'Block')
                SupportedClassMask = 6; MaxQueues = 0
            }
            VhostDevice = [VdpaPS.VdpaDevice]@{
                Name = 'vdpa0'; Parent = 'pci/0000:03:00.2'; ParentBusName = 'pci'; ParentDeviceName = '0000:03:00.2'
                Type = 'Net'; VirtioDeviceId = 1; VendorId = 0x15b3; MaxQueues = 17; MaxQueueSize = 256; MinQueueSize = 1
                Driver = 'vhost_vdpa'; VhostDevicePath = '/dev/vhost-vdpa-0'
                ParentDevicePath = '/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.2'; NumaNode = 1
            }
            BlockDevice = [VdpaPS.VdpaDevice]@{
                Name = 'blk0'; Parent = 'vdpasim_blk'; ParentDeviceName = 'vdpasim_blk'; Type = 'Block'; VirtioDeviceId = 2
                VendorId = 0; MaxQueues = 1; MaxQueueSize = 256; Driver = 'virtio_vdpa'; BlockDevice = '/dev/vda'
            }
            NetConfig = [VdpaPS.VdpaNetDeviceConfig]@{
                Name = 'vdpa0'; Type = 'Net'; VirtioDeviceId = 1; MacAddress = '02:00:00:00:00:01'; Status = 1; Mtu = 9000
                MaxQueuePairs = 8
                DeviceFeatures = $netDevice; DeviceFeatureMask = Get-Mask $netDevice
                NegotiatedFeatures = $netNegotiated; NegotiatedFeatureMask = Get-Mask $netNegotiated
            }
            BlockConfig = [VdpaPS.VdpaBlockDeviceConfig]@{
                Name = 'blk0'; Type = 'Block'; VirtioDeviceId = 2; Capacity = 262144; SizeMax = 4096; SegmentMax = 32; BlockSize = 512
                QueueCount = 1; PhysicalBlockExponent = 0; AlignmentOffset = 0; MinIoSize = 1; OptimalIoSize = 1
                MaxDiscardSectors = 4294967295; MaxDiscardSegments = 1; DiscardSectorAlignment = 512
                MaxWriteZeroesSectors = 4294967295; MaxWriteZeroesSegments = 1; ReadOnly = $false; Flush = $true
                DeviceFeatures = $blockDevice; DeviceFeatureMask = Get-Mask $blockDevice
            }
            CommonFeatures = [VdpaPS.VdpaCommonFeatures]@{
                DeviceClass = 'Net'; Features = 'MAC', 'VERSION_1'; FeatureMask = Get-Mask 'MAC', 'VERSION_1'
                Parents = [VdpaPS.VdpaParentExtraFeatures[]]@(
                    [VdpaPS.VdpaParentExtraFeatures]@{ ComputerName = 'compute1'; Parent = 'pci/0000:03:00.2'; ExtraFeatures = 'CSUM', 'MQ'
                        ExtraFeatureMask = Get-Mask 'CSUM', 'MQ'; SupportedFeatureMask = Get-Mask 'CSUM', 'MAC', 'MQ', 'VERSION_1' }
                    [VdpaPS.VdpaParentExtraFeatures]@{ ComputerName = 'compute2'; Parent = 'vdpasim_net'; ExtraFeatures = , 'MTU'
                        ExtraFeatureMask = Get-Mask 'MTU'; SupportedFeatureMask = Get-Mask 'MTU', 'MAC', 'VERSION_1' })
            }
            QueueStatistics = [VdpaPS.VdpaQueueStatistics]@{
                Name = 'vdpa0'; QueueIndex = 0; QueueType = 'Rx'; Type = 'Net'; QueuePairs = 1
                NegotiatedFeatures = $statsNegotiated; NegotiatedFeatureMask = Get-Mask $statsNegotiated; Counters = $rx
            }
        }
    }

    $script:Originals = & $NewSamples $ModuleDir

    $clixml = Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-serialization-$([guid]::NewGuid().ToString('n')).xml"
    try {
        $Originals | Export-Clixml -LiteralPath $clixml
        $fromClixml = Import-Clixml -LiteralPath $clixml
    } finally {
        Remove-Item -LiteralPath $clixml -ErrorAction SilentlyContinue
    }
    # Each object is the job's output on its own, as a remote command's output is (wrapped, it would be serialized
    # one level deeper); they come back in the order they were written.
    $job = Start-Job -ScriptBlock { param($ModuleDir, $Samples) (& ([scriptblock]::Create($Samples)) $ModuleDir).Values } -ArgumentList $ModuleDir, $NewSamples.ToString()
    try {
        $jobOutput = @($job | Receive-Job -Wait -ErrorAction Stop)
    } finally {
        $job | Remove-Job -Force
    }
    $fromJob = [ordered]@{}
    $keys = @($Originals.Keys)
    for ($i = 0; $i -lt $keys.Count; $i++) { $fromJob[$keys[$i]] = $jobOutput[$i] }
    $script:Received = @{
        'Export-Clixml/Import-Clixml' = $fromClixml
        'a job (remoting protocol)' = $fromJob
    }

    function Format-Value($Value) {
        # One comparable string per value: collections item by item, counters as name=value, the rest as PowerShell
        # renders a value in a string ([string] gives a deserialized enum its name, as the live one).
        if ($null -eq $Value) { return '<null>' }
        if ($Value -is [System.Collections.IEnumerable] -and $Value -isnot [string]) {
            return '[' + (@($Value | ForEach-Object { Format-Value $_ }) -join '|') + ']'
        }
        if ($Value.PSObject.Properties['Name'] -and $Value.PSObject.Properties['Value'] -and @($Value.PSObject.Properties).Count -eq 2) {
            return "$($Value.Name)=$($Value.Value)"
        }
        return [string]$Value
    }

    function Get-View($Value, [string] $Format) {
        # The default formatting (Out-String), or Format-Table/Format-List without properties: always the view.
        $text = switch ($Format) {
            'default' { $Value | Out-String -Width 250 }
            'table' { $Value | Format-Table | Out-String -Width 250 }
            'list' { $Value | Format-List | Out-String -Width 250 }
        }
        return ($text -split "`r?`n" | ForEach-Object TrimEnd) -join "`n"
    }
}

Describe 'Objects deserialized after <Transport>' -ForEach $Transports {
    BeforeAll {
        $script:Copies = $Received[$Transport]
    }

    It 'comes back as Deserialized.<type> for <_>' -ForEach @('HardwareParent', 'MultiClassParent', 'VhostDevice', 'BlockDevice', 'NetConfig', 'BlockConfig', 'CommonFeatures', 'QueueStatistics') {
        $original = $Originals[$_]
        $copy = $Copies[$_]
        $copy | Should -Not -BeNullOrEmpty
        $copy.PSObject.TypeNames[0] | Should -Be "Deserialized.$($original.GetType().FullName)"
    }

    It 'keeps every property value of <_>' -ForEach @('HardwareParent', 'MultiClassParent', 'VhostDevice', 'BlockDevice', 'NetConfig', 'BlockConfig', 'QueueStatistics') {
        $original = $Originals[$_]
        $copy = $Copies[$_]
        foreach ($property in $original.PSObject.Properties) {
            $copy.PSObject.Properties[$property.Name] | Should -Not -BeNullOrEmpty -Because "$($property.Name) should survive"
            Format-Value $copy.($property.Name) | Should -Be (Format-Value $property.Value) -Because "$_.$($property.Name) should keep its value"
        }
    }

    It 'keeps each feature mask naming exactly the features listed beside it: <Sample>.<Names>' -ForEach @(
        @{ Sample = 'HardwareParent'; Names = 'SupportedFeatures'; Mask = 'SupportedFeatureMask'; Class = 'Net' }
        @{ Sample = 'NetConfig'; Names = 'DeviceFeatures'; Mask = 'DeviceFeatureMask'; Class = 'Net' }
        @{ Sample = 'NetConfig'; Names = 'NegotiatedFeatures'; Mask = 'NegotiatedFeatureMask'; Class = 'Net' }
        @{ Sample = 'BlockConfig'; Names = 'DeviceFeatures'; Mask = 'DeviceFeatureMask'; Class = 'Block' }
        @{ Sample = 'QueueStatistics'; Names = 'NegotiatedFeatures'; Mask = 'NegotiatedFeatureMask'; Class = 'Net' }
    ) {
        $copy = $Copies[$Sample]
        [uint64]$copy.$Mask | Should -Not -Be 0
        (Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VirtioFeatures)::GetNames([uint64]$copy.$Mask, $Class) | Should -Be @($copy.$Names)
    }

    It 'keeps the counters of queue statistics as objects with a name and a value' {
        $counters = @($Copies.QueueStatistics.Counters)
        $counters.Count | Should -Be 5
        $counters[1].Name | Should -Be 'rx bytes'
        $counters[1].Value | Should -Be 98765432109
    }

    It 'formats <_> exactly as the live object, with the module''s view' -ForEach @('HardwareParent', 'MultiClassParent', 'VhostDevice', 'BlockDevice', 'NetConfig', 'BlockConfig', 'CommonFeatures', 'QueueStatistics') {
        Get-View $Copies[$_] 'default' | Should -Be (Get-View $Originals[$_] 'default')
    }

    It 'formats several devices as one table with the view''s columns and cells' {
        $table = Get-View @($Copies.VhostDevice, $Copies.BlockDevice) 'table'
        $table | Should -MatchExactly '(?m)^Name\s+Type\s+Parent\s+Driver\s+HostDevice\s+MaxQueues$'
        $table | Should -MatchExactly '(?m)^vdpa0\s+Net\s+pci/0000:03:00\.2\s+vhost_vdpa\s+/dev/vhost-vdpa-0\s+17$'
        $table | Should -MatchExactly '(?m)^blk0\s+Block\s+vdpasim_blk\s+virtio_vdpa\s+/dev/vda\s+1$'
        # The default dump would list every property; the view leaves these out.
        $table | Should -Not -Match 'ParentBusName|VhostDevicePath|VendorId'
    }

    It 'formats parents as the view''s table: classes as words, features counted' {
        $table = Get-View @($Copies.HardwareParent, $Copies.MultiClassParent) 'table'
        $table | Should -MatchExactly '(?m)^Name\s+SupportedClasses\s+MaxQueues\s+Features$'
        $table | Should -MatchExactly '(?m)^pci/0000:03:00\.2\s+Net\s+257\s+8$'
        $table | Should -MatchExactly '(?m)^vduse\s+Net, Block\s+0$'
        $table | Should -Not -Match 'SupportedClassMask'
    }

    It 'formats a net configuration as the view''s list: link, features as words' {
        $list = Get-View $Copies.NetConfig 'list'
        $list | Should -MatchExactly '(?m)^Type\s+: Net$'
        $list | Should -Match '(?m)^Link\s+: up$'
        $list | Should -Match '(?m)^DeviceFeatures\s+: MTU MAC STATUS CTRL_VQ MQ VERSION_1$'
        $list | Should -Not -Match 'DeviceFeatureMask'
    }

    It 'formats a block configuration as the view''s list: capacity in sectors and bytes, limits in words' {
        $list = Get-View $Copies.BlockConfig 'list'
        $list | Should -MatchExactly '(?m)^Type\s+: Block$'
        $list | Should -Match '(?m)^Capacity\s+: 262144 sectors \('
        $list | Should -Match '(?m)^Discard\s+: max 4294967295 sectors, 1 segments, alignment 512 sectors$'
        $list | Should -Not -Match 'CapacityBytes'
    }

    It 'formats queue statistics as the view''s list: one line per counter' {
        $list = Get-View $Copies.QueueStatistics 'list'
        $list | Should -MatchExactly '(?m)^QueueType\s+: Rx$'
        $list | Should -Match '(?m)^Counters\s+: rx packets\s+1234567$'
        $list | Should -Match '(?m)^\s+rx bytes\s+98765432109$'
        $list | Should -Not -Match 'NegotiatedFeatureMask'
    }

    It 'formats counters with their own table view' {
        Get-View $Copies.QueueStatistics.Counters 'default' | Should -Be (Get-View $Originals.QueueStatistics.Counters 'default')
    }

    It 'binds a deserialized device to <Command> by its name' -ForEach @(@{ Command = 'Get-VdpaDeviceConfig' }, @{ Command = 'Get-VdpaStats' }, @{ Command = 'Remove-VdpaDevice' }) {
        # Binding happens before the kernel is asked, so the command runs and meets the kernel: on a machine
        # without vdpa that is the module's NotInstalled error, with vdpa there is no device of that name. A
        # binding failure, or no error at all, fails here.
        # Without vdpa, which NotInstalled case follows from the kernel's own config (as Module.Tests reads it).
        $config = if (Test-Path "/boot/config-$(uname -r)") { Get-Content "/boot/config-$(uname -r)" }
                  elseif (Test-Path /proc/config.gz) { & zcat /proc/config.gz }
        $expected = if (Test-Path /sys/module/vdpa) { 'VdpaDeviceNotFound' }
                    elseif ($config -contains '# CONFIG_VDPA is not set') { 'VdpaNotInKernel' }
                    else { 'VdpaModuleNotLoaded' }
        $caught = $null
        try {
            # -Confirm:$false: Remove-VdpaDevice would ask first (ConfirmImpact High); the kernel's absence stops it anyway.
            $confirm = if ($Command -like 'Remove-*') { @{ Confirm = $false } } else { @{} }
            $Copies.VhostDevice | & $Command -ErrorAction Stop @confirm | Out-Null
        } catch {
            $caught = $_
        }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -Be "$expected,VdpaPS.Commands.$($Command -replace '-', '')Command"
    }

    It 'keeps common features whole: the parents and their extra features as objects' {
        $copy = $Copies.CommonFeatures
        $copy.FeatureMask | Should -Be $Originals.CommonFeatures.FeatureMask
        @($copy.Features) | Should -Be @($Originals.CommonFeatures.Features)
        $copy.Parents | Should -HaveCount 2
        $copy.Parents[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaParentExtraFeatures'
        $copy.Parents[0].ComputerName | Should -Be 'compute1'
        @($copy.Parents[0].ExtraFeatures) | Should -Be 'CSUM', 'MQ'
        $copy.Parents[1].ExtraFeatureMask | Should -Be 8
    }

    It 'has Features, which New-VdpaDevice -Feature takes by property name' {
        # The binding itself needs a kernel (the names are resolved against the parent): Remoting.Tests.ps1 pipes a
        # deserialized result into New-VdpaDevice in the lab. Here: the property and the parameter that meet.
        $Copies.CommonFeatures.PSObject.Properties['Features'] | Should -Not -BeNullOrEmpty
        $feature = (Get-Command New-VdpaDevice).Parameters['Feature']
        $feature.Aliases | Should -Contain 'Features'
        @($feature.ParameterSets.Values | Where-Object ValueFromPipelineByPropertyName) | Should -Not -BeNullOrEmpty
    }
}

Describe 'The format file' {
    BeforeAll {
        $script:Format = [xml](Get-Content -Raw (Join-Path $ModuleDir 'VdpaPS.format.ps1xml'))
    }

    It 'names the Deserialized twin of every type it selects a view or an entry by' {
        foreach ($view in $Format.Configuration.ViewDefinitions.View) {
            # ViewSelectedBy and the EntrySelectedBy of list and table entries alike.
            $names = @($view.SelectNodes('.//TypeName') | ForEach-Object InnerText)
            foreach ($name in $names | Where-Object { $_ -notlike 'Deserialized.*' }) {
                $names | Should -Contain "Deserialized.$name" -Because "view $($view.Name) formats $name"
            }
        }
    }

    It 'has a view for the Deserialized twin of every type the cmdlets output, or of a base type' {
        $selected = @($Format.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName)
        foreach ($command in Get-Command -Module VdpaPS -CommandType Cmdlet) {
            foreach ($output in $command.OutputType) {
                # A deserialized object keeps its type's hierarchy in TypeNames, so a base type's view formats it.
                $hierarchy = for ($type = $output.Type; $type -and $type -ne [object]; $type = $type.BaseType) { "Deserialized.$($type.FullName)" }
                @($hierarchy | Where-Object { $_ -in $selected }) | Should -Not -BeNullOrEmpty -Because "$($command.Name) outputs $($output.Name)"
            }
        }
    }
}

# Test-VdpaMigration decides on what deserialized devices and parents carry, asking no kernel: a device's configuration
# and a parent from another host (here through Export-Clixml/Import-Clixml, as remoting gives them).
Describe 'Test-VdpaMigration on deserialized devices and parents' {
    BeforeAll {
        $bits = @{ MTU = 3; MAC = 5; STATUS = 16; CTRL_VQ = 17; MQ = 22; VERSION_1 = 32; ACCESS_PLATFORM = 33 }
        function Get-Mask([string[]] $Names) { [uint64] $m = 0; foreach ($n in $Names) { $m = $m -bor ([uint64]1 -shl $bits[$n]) }; $m }
        function Copy-Deserialized($InputObject) {
            $path = Join-Path ([System.IO.Path]::GetTempPath()) "vdpaps-mig-$([guid]::NewGuid().ToString('n')).xml"
            try { $InputObject | Export-Clixml -Path $path -Depth 3; Import-Clixml -Path $path } finally { Remove-Item -LiteralPath $path -ErrorAction Ignore }
        }
        $features = 'MAC', 'STATUS', 'CTRL_VQ', 'MQ', 'VERSION_1'
        $script:Config = Copy-Deserialized ([VdpaPS.VdpaNetDeviceConfig]@{ Name = 'vm7-net0'; Type = 'Net'; VirtioDeviceId = 1
            MacAddress = '52:54:00:00:11:00'; MaxQueuePairs = 1; DeviceFeatures = $features; DeviceFeatureMask = Get-Mask $features })
        # A vp_vdpa function of another host: sets only features, and its device has the function's MAC.
        $spec = @{ Name = 'pci/0000:00:11.0'; BusName = 'pci'; DeviceName = '0000:00:11.0'; SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net')
            SupportedClassMask = 2; MaxQueues = 3; SupportedFeatures = @($features + 'ACCESS_PLATFORM' | Where-Object { $_ -ne 'MQ' })
            SupportedFeatureMask = Get-Mask @($features + 'ACCESS_PLATFORM' | Where-Object { $_ -ne 'MQ' }); PciDriver = 'vp-vdpa'
            Devices = @(); HostDevices = @('vm7-net0'); CreationAttributes = @('Feature'); FeatureProvisioning = $true; OwnMacAddress = '52:54:00:00:11:00' }
        $script:Destination = Copy-Deserialized ([VdpaPS.VdpaParent]$spec)
        $spec.Remove('HostDevices'); $spec.Remove('CreationAttributes'); $spec.Remove('FeatureProvisioning')
        $script:BareParent = Copy-Deserialized ([VdpaPS.VdpaParent]$spec)
    }

    It 'gives each reason from what the deserialized objects carry' {
        $Config.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaNetDeviceConfig'
        $Destination.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaParent'
        $check = $Config | Test-VdpaMigration -Parent $Destination -ErrorAction Stop
        $check.PSObject.TypeNames[0] | Should -Be 'VdpaPS.VdpaMigrationCheck'
        @($check.Reasons | ForEach-Object ToString) | Should -Be 'FeatureMissing:MQ', 'NameTaken'
        $check.CanCreateTwin | Should -BeFalse
        ($check.Name, $check.Parent) | Should -Be 'vm7-net0', 'pci/0000:00:11.0'
        $check.DeviceFeatureMask | Should -Be $Config.DeviceFeatureMask
    }

    It 'refuses what a parent does not say, naming each unknown' {
        $check = $Config | Test-VdpaMigration -Parent $BareParent -ErrorAction Stop
        @($check.Reasons | ForEach-Object ToString) | Should -Be 'FeatureMissing:MQ', 'Unknown:FeatureProvisioning', 'Unknown:CreationAttributes', 'Unknown:HostDevices'
    }

    It 'keeps the reasons when the result itself is serialized, and shows them in its views' {
        $copy = Copy-Deserialized ($Config | Test-VdpaMigration -Parent $Destination)
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaMigrationCheck'
        ($copy | Out-String -Width 80) | Should -Match '(?m)^vm7-net0\s+pci/0000:00:11\.0\s+No\s+FeatureMissing:MQ$'
        ($copy | Format-List | Out-String -Width 80) | Should -Match '(?m)^\s+NameTaken$'
    }

    It 'binds a piped configuration without an MTU, or with Linux 6.1''s MTU of 0 for none, to New-VdpaDevice' {
        foreach ($mtu in $null, [uint16]0) {
            $config = [pscustomobject]@{ Name = 'vm7-net0'; Type = 'Net'; MacAddress = $null; Mtu = $mtu; MaxQueuePairs = [uint16]1
                DeviceFeatures = @('VERSION_1'); DeviceFeatureMask = [uint64]1 -shl 32 }
            $caught = $null
            try { $config | New-VdpaDevice -Parent vdpasim_net -ErrorAction Stop } catch { $caught = $_ }
            # Bound, it goes on to the kernel, which this machine lacks: the module's own error, not the binder's.
            $caught.FullyQualifiedErrorId | Should -BeLike 'Vdpa*,VdpaPS.Commands.NewVdpaDeviceCommand' -Because "MTU $(if ($null -eq $mtu) { 'none' } else { '0' }) binds"
        }
    }

    It 'refuses a piped parent''s Name as a new device''s name before the kernel is asked' {
        # A name a device could have (no '/'), so only the refusal of a parent's Name stops it here.
        $sim = Copy-Deserialized ([VdpaPS.VdpaParent]@{ Name = 'vdpasim_net'; DeviceName = 'vdpasim_net'; SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net') })
        $sim | New-VdpaDevice -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'InvalidVdpaDeviceName,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].Exception.Message | Should -BeLike '*give the new device''s name with -Name*'
    }
}

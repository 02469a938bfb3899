# A fleet through PowerShell remoting over SSH (the lab word `ssh`): two sessions to the guest's sshd, one to 127.0.0.1
# and one to localhost, stand for two hosts (their results carry different PSComputerName values). Objects come back
# deserialized, as they do from real hosts. Expectations come from iproute2 (`vdpa -j`) and from the same command run
# here, not from the module's view of itself. Sessions are slow to open under emulation: two, opened once.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    . (Join-Path $PSScriptRoot 'Remoting.ps1')
    $script:P = 'rmt'
    $script:A, $script:B = New-LabSession -HostName '127.0.0.1', 'localhost'

    function Show-Text($InputObject) {
        # What a reader sees at 120 columns, trailing blanks trimmed.
        return (($InputObject | Out-String -Width 120) -split '\r?\n' | ForEach-Object TrimEnd) -join "`n"
    }

    # iproute2's supported-feature mask of a parent (the tests' own uapi table, LabHelpers.ps1).
    function Get-IpParentMask([string] $Name) {
        return ConvertTo-FeatureMask (Invoke-IpVdpa mgmtdev show).mgmtdev[$Name].dev_features
    }

    # The bits of the module's feature names: the same table, plus the name the module gives bit 40 (uapi virtio_config.h
    # VIRTIO_F_RING_RESET), which iproute2 prints as a number.
    function ConvertTo-NamedMask([string[]] $Names) {
        return ConvertTo-FeatureMask @($Names | ForEach-Object { if ($_ -eq 'RING_RESET') { '40' } else { $_ } })
    }
}

AfterAll {
    if ($A -or $B) { Remove-PSSession -Session @($A, $B | Where-Object { $_ }) }
    Remove-LabDevice "$P-*"
}

Describe 'Devices through remoting' {
    BeforeAll {
        $script:Created = Invoke-Command -Session $A { New-VdpaDevice -Name rmt-a0 -Parent vdpasim_net -MacAddress 02:00:00:00:0e:01 } -ErrorVariable createErrors
    }

    It 'New-VdpaDevice inside a session creates the device there' {
        $createErrors | Should -HaveCount 0
        $Created.Name | Should -Be 'rmt-a0'
        $Created.PSComputerName | Should -Be '127.0.0.1'
        $Created.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaDevice'
        Get-IpVdpaDeviceNames | Should -Contain 'rmt-a0'
        (Invoke-IpVdpa dev config show rmt-a0).config['rmt-a0'].mac | Should -Be '02:00:00:00:0e:01'
    }

    It 'Get-VdpaDevice on both sessions returns every device of each host, with its PSComputerName' {
        $devices = @(Invoke-Command -Session $A, $B { Get-VdpaDevice })
        $expected = @(Get-IpVdpaDeviceNames | Sort-Object)
        foreach ($computer in '127.0.0.1', 'localhost') {
            @($devices | Where-Object PSComputerName -EQ $computer | ForEach-Object Name | Sort-Object) | Should -Be $expected -Because "$computer lists the kernel's devices"
        }
        $devices | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaDevice' }
    }

    It 'formats remote devices, parents and configurations with the module''s views, as the live objects' {
        # -HideComputerName: without the PSComputerName column that PowerShell adds to remote results.
        foreach ($command in { Get-VdpaDevice }, { Get-VdpaParent }, { Get-VdpaDeviceConfig rmt-a0 }) {
            $remote = Invoke-Command -Session $A $command -HideComputerName
            Show-Text $remote | Should -BeExactly (Show-Text (& $command)) -Because "$command through remoting formats as it does here"
        }
        # With it: the device view's columns, then the host.
        $table = Show-Text (Invoke-Command -Session $A, $B { Get-VdpaDevice rmt-a0 })
        $table | Should -Match '(?m)^Name\s+Type\s+Parent\s+Driver\s+HostDevice\s+MaxQueues\s+PSComputerName$'
        $table | Should -Match '(?m)^rmt-a0\s+Net\s+vdpasim_net\s.*\d+\s+127\.0\.0\.1$'
        $table | Should -Match '(?m)^rmt-a0\s+Net\s+vdpasim_net\s.*\d+\s+localhost$'
        $table | Should -Not -Match 'ParentBusName|VendorId'
    }

    It 'Get-VdpaDeviceConfig and Get-VdpaStats take a deserialized device by its name inside the remote block' {
        $config = Invoke-Command -Session $B { $using:Created | Get-VdpaDeviceConfig } -ErrorVariable e
        $e | Should -HaveCount 0
        $config.Name | Should -Be 'rmt-a0'
        $config.MacAddress | Should -Be '02:00:00:00:0e:01'
        # Statistics as this kernel gives them here (vdpasim_net keeps none on 6.1): the same objects or the same error id.
        $local = @(Get-VdpaStats rmt-a0 -QueueIndex 0 -ErrorVariable localErrors -ErrorAction SilentlyContinue)
        $remote = @(Invoke-Command -Session $B { $using:Created | Get-VdpaStats -QueueIndex 0 } -ErrorVariable remoteErrors -ErrorAction SilentlyContinue)
        @($remoteErrors | ForEach-Object FullyQualifiedErrorId) | Should -Be @($localErrors | ForEach-Object FullyQualifiedErrorId)
        ($local.Count + @($localErrors).Count) | Should -BeGreaterThan 0 -Because 'statistics or an error: something to compare'
        $remote.Count | Should -Be $local.Count
        if ($local.Count) { Show-Text $remote | Should -BeExactly (Show-Text $local) }
    }

    It 'a kernel error inside the remote block comes back with its VdpaPS error id and the host' {
        Invoke-Command -Session $A { New-VdpaDevice -Name rmt-e0 -Parent vdpasim_net -MaxQueuePairs 2 } -ErrorVariable e -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotSupported,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'NotImplemented'
        "$($e[0])" | Should -Match ([regex]::Escape($RefusedAttributesText))
        $e[0].OriginInfo.PSComputerName | Should -Be '127.0.0.1'
        Get-IpVdpaDeviceNames | Should -Not -Contain 'rmt-e0'
    }

    It 'Remove-VdpaDevice takes a deserialized device by its name inside the remote block' {
        $removed = Invoke-Command -Session $B { $using:Created | Remove-VdpaDevice -Confirm:$false -PassThru } -ErrorVariable e
        $e | Should -HaveCount 0
        $removed.Name | Should -Be 'rmt-a0'
        Get-IpVdpaDeviceNames | Should -Not -Contain 'rmt-a0'
    }
}

Describe 'Common features of vdpasim_net and the PCI net parents, across two hosts' {
    BeforeAll {
        $script:NetParents = 'vdpasim_net', 'pci/0000:00:10.0', 'pci/0000:00:11.0', 'pci/0000:21:00.0'
        # The expectation: the AND of iproute2's masks.
        $script:IpMasks = @{}
        foreach ($name in $NetParents) { $IpMasks[$name] = Get-IpParentMask $name }
        [uint64] $script:Expected = [uint64]::MaxValue
        foreach ($name in $NetParents) { $Expected = $Expected -band $IpMasks[$name] }
        # Two parents on each "host".
        $script:RemoteParents = @(Invoke-Command -Session $A { Get-VdpaParent vdpasim_net, pci/0000:00:10.0 }) +
            @(Invoke-Command -Session $B { Get-VdpaParent pci/0000:00:11.0, pci/0000:21:00.0 })
    }

    It 'the parents'' feature sets differ, so the intersection is a real one' {
        @($NetParents | ForEach-Object { $IpMasks[$_] } | Sort-Object -Unique).Count | Should -BeGreaterThan 1
        $Expected | Should -Not -Be 0
        foreach ($name in $NetParents) { ($IpMasks[$name] -band $Expected) | Should -Be $Expected }
        @($NetParents | Where-Object { $IpMasks[$_] -ne $Expected }).Count | Should -BeGreaterThan 0
    }

    It 'are exactly the intersection of iproute2''s masks, from live parents' {
        $common = Get-VdpaParent $NetParents | Get-VdpaCommonFeature
        $common.FeatureMask | Should -Be $Expected
        ConvertTo-NamedMask $common.Features | Should -Be $Expected -Because 'the names say the same bits'
        $common.DeviceClass | Should -Be 'Net'
        @($common.Parents.Parent) | Should -Be $NetParents
        foreach ($p in $common.Parents) {
            $p.ComputerName | Should -BeNullOrEmpty
            $p.ExtraFeatureMask | Should -Be ($IpMasks[$p.Parent] -band -bnot $Expected)
        }
    }

    It 'are exactly that intersection from parents that came back through remoting, each with its host' {
        $RemoteParents | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaParent' }
        $common = $RemoteParents | Get-VdpaCommonFeature
        $common.FeatureMask | Should -Be $Expected
        ConvertTo-NamedMask $common.Features | Should -Be $Expected
        @($common.Parents | ForEach-Object { "$($_.ComputerName) $($_.Parent)" }) |
            Should -Be '127.0.0.1 vdpasim_net', '127.0.0.1 pci/0000:00:10.0', 'localhost pci/0000:00:11.0', 'localhost pci/0000:21:00.0'
        foreach ($p in $common.Parents) {
            $p.ExtraFeatureMask | Should -Be ($IpMasks[$p.Parent] -band -bnot $Expected)
            ConvertTo-NamedMask $p.ExtraFeatures | Should -Be $p.ExtraFeatureMask
        }
    }

    It 'come back through remoting whole, and format with their view as the live result' {
        $remote = Invoke-Command -Session $B { Get-VdpaParent $using:NetParents | Get-VdpaCommonFeature } -HideComputerName
        $remote.PSObject.TypeNames[0] | Should -Be 'Deserialized.VdpaPS.VdpaCommonFeatures'
        $remote.FeatureMask | Should -Be $Expected
        @($remote.Parents | ForEach-Object { ConvertTo-NamedMask $_.ExtraFeatures }) |
            Should -Be @($NetParents | ForEach-Object { $IpMasks[$_] -band -bnot $Expected })
        $text = Show-Text $remote
        $text | Should -BeExactly (Show-Text (Get-VdpaParent $NetParents | Get-VdpaCommonFeature))
        $text | Should -Match '(?m)^DeviceClass\s+: Net$'
        $text | Should -Match '(?m)^Parents\s+: vdpasim_net also has:$'
    }

    It 'a device created with them on each host offers exactly those features' {
        $common = $RemoteParents | Get-VdpaCommonFeature
        $features = $common.Features
        # Piped (Features binds to -Feature by property name) on one host, as -Feature on the other.
        # (Not $a and $b: PowerShell's names ignore case, and $A and $B are the sessions.)
        $onA = Invoke-Command -Session $A { $using:common | New-VdpaDevice -Name rmt-c0 -Parent vdpasim_net } -ErrorVariable ea -WarningVariable wa
        $onB = Invoke-Command -Session $B { New-VdpaDevice -Name rmt-c1 -Parent pci/0000:00:11.0 -Feature $using:features } -ErrorVariable eb -WarningVariable wb
        @($ea) + @($eb) | Should -HaveCount 0
        @($wa) + @($wb) | Should -HaveCount 0
        $onA.Name, $onB.Name | Should -Be 'rmt-c0', 'rmt-c1'
        foreach ($n in 'rmt-c0', 'rmt-c1') {
            # The kernel's DEV_CONFIG_GET, through the core client: the device's offered feature bits.
            $client = Open-VdpaCoreClient
            try { $config = $client.GetConfig($n) } finally { $client.Dispose() }
            $config.DeviceFeatureMask | Should -Be $Expected -Because "$n offers the common features, no more, no fewer"
        }
        $remote = @(Invoke-Command -Session $A, $B { Get-VdpaDeviceConfig rmt-c0, rmt-c1 })
        $remote.Count | Should -Be 4
        $remote | ForEach-Object { [uint64]$_.DeviceFeatureMask | Should -Be $Expected }
        Remove-LabDevice 'rmt-c*'
    }

    It 'refuse parents of different classes with VdpaParentClassMismatch: <Case>' -ForEach @(
        @{ Case = 'the simulators'; Net = 'vdpasim_net'; Block = 'vdpasim_blk' }
        @{ Case = 'PCI net and block functions'; Net = 'pci/0000:00:10.0'; Block = 'pci/0000:00:12.0' }
    ) {
        $parents = @(Invoke-Command -Session $A { Get-VdpaParent $using:Net }) + @(Invoke-Command -Session $B { Get-VdpaParent $using:Block })
        $caught = $null
        try { $parents | Get-VdpaCommonFeature | Out-Null } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -Be 'VdpaParentClassMismatch,VdpaPS.Commands.GetVdpaCommonFeatureCommand'
        $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$caught" | Should -Match "'$([regex]::Escape($Net))' on 127\.0\.0\.1 creates Net"
        "$caught" | Should -Match "'$([regex]::Escape($Block))' on localhost creates Block"
        # Inside a remote block too: the error comes back with its id.
        Invoke-Command -Session $A { Get-VdpaParent $using:Net, $using:Block | Get-VdpaCommonFeature } -ErrorVariable e -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaParentClassMismatch,VdpaPS.Commands.GetVdpaCommonFeatureCommand'
    }
}

# End-to-end on PCI parents: qemu's virtio-net-pci and virtio-blk-pci functions bound to vp_vdpa (the lab's `pci` module
# word), named pci/0000:00:10.0 (net, mq), pci/0000:00:11.0 (net), pci/0000:00:12.0 (block, a 64 MiB disk) and
# pci/0000:21:00.0 (net, behind a second PCI bus on NUMA node 1). Checked against iproute2's `vdpa -j` and sysfs.
# vp_vdpa keeps one device per parent (a second one corrupts the parent): every test keeps to one.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    $script:P = 'ppc'
    Enable-LabVirtioDriver
    Invoke-LabModprobe vhost_vdpa
    $script:PciNames = 'pci/0000:00:10.0', 'pci/0000:00:11.0', 'pci/0000:00:12.0', 'pci/0000:21:00.0'

    function Get-FileKind([string] $Path) { (& stat -c %F $Path 2>$null) }
    function Get-SysfsNumaNode([string] $Address) {
        $n = [int](Get-Content "/sys/bus/pci/devices/$Address/numa_node")
        if ($n -lt 0) { $null } else { $n }
    }
}

AfterAll {
    Remove-LabDevice "$P-*"
    & modprobe -C /dev/null -d $script:LabModRoot -r vhost_vdpa 2>&1 | Out-Null
    Disable-LabVirtioDriver
}

Describe 'PCI parents' {
    It 'are the four functions bound to vp-vdpa' {
        foreach ($name in $PciNames) {
            $address = $name.Split('/')[1]
            Split-Path -Leaf (Get-Item "/sys/bus/pci/devices/$address/driver").LinkTarget | Should -Be 'vp-vdpa'
        }
    }

    It 'agree with vdpa -j mgmtdev show, field by field' {
        $ip = (Invoke-IpVdpa mgmtdev show).mgmtdev
        $parents = Get-VdpaParent | Where-Object BusName -EQ 'pci'
        ($parents.Name | Sort-Object) | Should -Be ($PciNames | Sort-Object)
        foreach ($p in $parents) {
            $x = $ip[$p.Name]
            $x | Should -Not -BeNullOrEmpty -Because "iproute2 lists $($p.Name)"
            $p.DeviceName | Should -Be $p.Name.Split('/')[1]
            ($p.SupportedClasses | ForEach-Object { "$_".ToLowerInvariant() }) | Should -Be @($x.supported_classes)
            $p.MaxQueues | Should -Be $x.max_supported_vqs
            $p.SupportedFeatureMask | Should -Be (ConvertTo-FeatureMask $x.dev_features)
        }
        # What the lab gave them: mq on 10.0 only, block on 12.0.
        (Get-VdpaParent pci/0000:00:10.0).SupportedFeatures | Should -Contain 'MQ'
        (Get-VdpaParent pci/0000:00:11.0).SupportedFeatures | Should -Not -Contain 'MQ'
        "$((Get-VdpaParent pci/0000:00:12.0).SupportedClasses)" | Should -Be 'Block'
    }

    It 'are found by their address alone and by any case of the bus name, as the kernel names them' {
        (Get-VdpaParent 0000:00:10.0).Name | Should -Be 'pci/0000:00:10.0'
        (Get-VdpaParent PCI/0000:00:11.0).Name | Should -Be 'pci/0000:00:11.0'
        (Get-VdpaParent '0000:00:1*').Name | Sort-Object | Should -Be @('pci/0000:00:10.0', 'pci/0000:00:11.0', 'pci/0000:00:12.0')
        Get-VdpaParent 0000:00:13.0 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaParentNotFound,VdpaPS.Commands.GetVdpaParentCommand'
        # The kernel itself knows the parent only with its bus: iproute2 with the address alone fails.
        & vdpa mgmtdev show 0000:00:10.0 2>&1 | Out-Null
        $LASTEXITCODE | Should -Not -Be 0
    }

    It 'complete from an address or an upper-case bus to the kernel''s name' {
        $line = 'New-VdpaDevice -Name x -Parent 0000:00:1'
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Sort-Object |
            Should -Be @('pci/0000:00:10.0', 'pci/0000:00:11.0', 'pci/0000:00:12.0')
        $line = 'Get-VdpaDevice -Parent PCI/0000:21'
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be 'pci/0000:21:00.0'
    }
}

Describe 'A net device on pci/0000:00:10.0 (mq)' {
    BeforeAll {
        $script:NetFeatures = 'VERSION_1', 'MAC', 'STATUS', 'CTRL_VQ', 'MQ'
        # Created by the address alone: the module sends the kernel's own name.
        $script:N0 = New-VdpaDevice "$P-n0" 0000:00:10.0 -Feature $NetFeatures -ErrorVariable createErrors -WarningVariable createWarnings
    }

    It 'was created by its address alone, with -Feature, and the device offers exactly those features' {
        $createErrors | Should -HaveCount 0
        $createWarnings | Should -HaveCount 0
        $N0.Parent | Should -Be 'pci/0000:00:10.0'
        $N0.ParentBusName | Should -Be 'pci'
        $c = Get-VdpaDeviceConfig "$P-n0"
        ($c.DeviceFeatures | Sort-Object) | Should -Be ($NetFeatures | Sort-Object)
    }

    It 'agrees with vdpa -j dev show and dev config show, field by field' {
        $x = (Invoke-IpVdpa dev show "$P-n0").dev["$P-n0"]
        $d = Get-VdpaDevice "$P-n0"
        $x.type | Should -Be 'network'
        $d.Parent | Should -Be $x.mgmtdev
        $d.VendorId | Should -Be $x.vendor_id
        $d.MaxQueues | Should -Be $x.max_vqs
        $d.MaxQueueSize | Should -Be $x.max_vq_size
        $ipc = (Invoke-IpVdpa dev config show "$P-n0").config["$P-n0"]
        $c = Get-VdpaDeviceConfig "$P-n0"
        $c.MacAddress | Should -Be $ipc.mac
        $c.MacAddress | Should -Be '52:54:00:00:10:00' -Because 'qemu gave the function this MAC'
        $c.LinkUp | Should -Be ($ipc['link '] -eq 'up')
        $c.MaxQueuePairs | Should -Be $ipc.max_vq_pairs
        $c.MaxQueuePairs | Should -BeGreaterThan 0 -Because 'the function has mq'
    }

    It 'is listed by Get-VdpaDevice -Parent with the address alone, the upper-case bus, and a piped parent' {
        (Get-VdpaDevice -Parent 0000:00:10.0 -ErrorVariable e).Name | Should -Be "$P-n0"
        $e | Should -HaveCount 0
        (Get-VdpaDevice -Parent PCI/0000:00:10.0).Name | Should -Be "$P-n0"
        (Get-VdpaParent 0000:00:10.0 | Get-VdpaDevice).Name | Should -Be "$P-n0"
    }

    It 'shows where it is: ParentDevicePath is the PCI function, NumaNode its node' {
        $d = Get-VdpaDevice "$P-n0"
        $d.ParentDevicePath | Should -Be (& readlink -f /sys/bus/pci/devices/0000:00:10.0)
        $d.NumaNode | Should -Be (Get-SysfsNumaNode 0000:00:10.0)
    }

    It 'a second device on the same vp_vdpa parent is refused before anything is sent' {
        $v = New-VdpaDevice "$P-n1" pci/0000:00:10.0 -ErrorVariable e -ErrorAction SilentlyContinue -Verbose 4>&1
        @($v | Where-Object { $_ -is [VdpaPS.VdpaDevice] }) | Should -HaveCount 0
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaParentFull,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        "$($e[0])" | Should -Match "'$P-n0'"
        "$($e[0])" | Should -Match 'vp-vdpa.*one device per parent'
        @($v | Where-Object { "$_" -match 'DEV_NEW: sent' }) | Should -HaveCount 0
        Get-LabDeviceNames | Should -Not -Contain "$P-n1"
        # -WhatIf says what it would do and refuses nothing.
        New-VdpaDevice "$P-n1" 0000:00:10.0 -WhatIf -ErrorVariable w
        $w | Should -HaveCount 0
    }

    It 'bound to vhost_vdpa shows /dev/vhost-vdpa-N, a character device' {
        $d = Set-VdpaDevice "$P-n0" -Driver vhost_vdpa -PassThru
        $d.Driver | Should -Be 'vhost_vdpa'
        $d.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Get-FileKind $d.VhostDevicePath | Should -Be 'character special file'
        $d.NetworkInterface | Should -BeNullOrEmpty
    }
}

Describe 'What pci/0000:00:11.0 does not accept' {
    It 'refuses <Parameter> as the parent''s limit, in the kernel''s words, and creates nothing' -ForEach @(
        @{ Parameter = '-MacAddress'; Params = @{ MacAddress = '02:00:00:00:11:01' } }
        @{ Parameter = '-Mtu'; Params = @{ Mtu = 1400 } }
        @{ Parameter = '-MaxQueuePairs'; Params = @{ MaxQueuePairs = 1 } }
    ) {
        $a = $Params
        New-VdpaDevice "$P-r0" PCI/0000:00:11.0 @a -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotSupported,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'NotImplemented'
        "$($e[0])" | Should -Match "Parent 'pci/0000:00:11.0' does not accept $Parameter"
        "$($e[0])" | Should -Match ([regex]::Escape($RefusedAttributesText))
        "$($e[0])" | Should -Not -Match 'VDUSE'
        Get-LabDeviceNames | Should -Not -Contain "$P-r0"
    }

    It 'refuses a feature the function does not offer by naming it, without the VDUSE hint' {
        # None of the functions offers ACCESS_PLATFORM; the kernel's EINVAL has no message.
        New-VdpaDevice "$P-r1" 0000:00:11.0 -Feature VERSION_1, ACCESS_PLATFORM -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaInvalidArgument,VdpaPS.Commands.NewVdpaDeviceCommand'
        "$($e[0])" | Should -Match "Parent 'pci/0000:00:11.0' does not offer the features ACCESS_PLATFORM"
        "$($e[0])" | Should -Not -Match 'VDUSE'
        $e[0].Exception.Errno | Should -Be 22
        Get-LabDeviceNames | Should -Not -Contain "$P-r1"
    }
}

Describe 'A configuration file for pci/0000:00:11.0 (issue 22)' {
    BeforeAll {
        # Sync as root uses only a file no other user can write, in folders no other user can write.
        $script:CfgDir = '/etc/vdpaps-lab-pci'
        New-Item -ItemType Directory -Force $CfgDir | Out-Null
        & chmod 755 $CfgDir
    }
    AfterAll {
        Remove-LabDevice "$P-c*"
        Remove-Item -Recurse -Force $CfgDir -ErrorAction SilentlyContinue
    }

    It 'naming the parent by its short address converges with Sync, and Compare then reports nothing' {
        $file = Join-Path $CfgDir 'short.json'
        Set-Content $file (@{ devices = @(@{ name = "$P-c0"; parent = '00:11.0'; driver = 'vhost_vdpa' }) } | ConvertTo-Json -Depth 5)
        & chmod 644 $file
        Sync-VdpaConfiguration -Path $file -ErrorVariable e -ErrorAction SilentlyContinue
        $e | Should -HaveCount 0
        $d = Get-VdpaDevice "$P-c0"
        $d.Parent | Should -Be 'pci/0000:00:11.0'
        $d.Driver | Should -Be 'vhost_vdpa'
        # Other tests' devices are on the host too: only this file's device is compared.
        Compare-VdpaConfiguration -Path $file | Where-Object Change -NE NotInFile | Should -BeNullOrEmpty
        Sync-VdpaConfiguration -Path $file -Force -Confirm:$false -InformationVariable info -ErrorAction Stop
        "$info" | Should -Match ': (nothing was changed|the host already matches)' -Because '-Force finds nothing to recreate'
        (Get-Content -Raw $file | ConvertFrom-Json).devices[0].parent | Should -Be '00:11.0' -Because 'the file keeps what the user wrote'
    }

    It 'Export then Sync brings its device back after a removal: the file holds only what the parent lets a create set' {
        $file = Join-Path $CfgDir 'export.json'
        Export-VdpaConfiguration -Path $file -Name "$P-c0" -ErrorAction Stop
        $written = @((Get-Content -Raw $file | ConvertFrom-Json).devices)
        $written | Should -HaveCount 1
        $written[0].parent | Should -Be 'pci/0000:00:11.0'
        # vp_vdpa takes device features at creation, not the MAC, MTU or queue pairs the function has of its own.
        $written[0].PSObject.Properties.Name | Should -Not -Contain 'mac'
        $written[0].PSObject.Properties.Name | Should -Not -Contain 'mtu'
        $written[0].PSObject.Properties.Name | Should -Not -Contain 'maxQueuePairs'
        $written[0].features | Should -Contain 'VERSION_1'
        $before = Export-VdpaConfiguration -Name "$P-c0" | ConvertTo-Json -Compress

        Remove-VdpaDevice "$P-c0" -Confirm:$false -ErrorAction Stop
        Sync-VdpaConfiguration -Path $file -ErrorVariable e -ErrorAction SilentlyContinue
        $e | Should -HaveCount 0
        Export-VdpaConfiguration -Name "$P-c0" | ConvertTo-Json -Compress | Should -Be $before
        Compare-VdpaConfiguration -Path $file | Where-Object Change -NE NotInFile | Should -BeNullOrEmpty
    }
}

Describe 'A block device on pci/0000:00:12.0' {
    BeforeAll {
        $script:BlkFeatures = 'VERSION_1', 'BLK_SIZE', 'SEG_MAX', 'FLUSH'
        $script:B0 = New-VdpaDevice "$P-b0" pci/0000:00:12.0 -Feature $BlkFeatures -Driver virtio_vdpa -ErrorVariable createErrors -WarningVariable createWarnings
    }

    It 'was created with -Feature and bound to virtio_vdpa: /dev/vdX, as vdpa -j dev show describes it' {
        $createErrors | Should -HaveCount 0
        $B0.Type | Should -Be 'Block'
        $B0.Parent | Should -Be 'pci/0000:00:12.0'
        $B0.BlockDevice | Should -Match '^/dev/vd[a-z]+$'
        Get-FileKind $B0.BlockDevice | Should -Be 'block special file'
        $x = (Invoke-IpVdpa dev show "$P-b0").dev["$P-b0"]
        $x.type | Should -Be 'block'
        $x.mgmtdev | Should -Be 'pci/0000:00:12.0'
        $B0.MaxQueues | Should -Be $x.max_vqs
    }

    It 'decodes its configuration as the disk sees it, or says block configuration came in Linux 6.9' {
        $disk = Split-Path -Leaf $B0.BlockDevice
        $sectors = [uint64](Get-Content "/sys/block/$disk/size")
        $sectors * 512 | Should -Be 64MB -Because 'the lab gives the function a 64 MiB disk'
        $c = Get-VdpaDeviceConfig "$P-b0" -ErrorVariable e -ErrorAction SilentlyContinue
        if ($HasBlockConfig) {
            $e | Should -HaveCount 0
            $createWarnings | Should -HaveCount 0
            $c.Capacity | Should -Be $sectors
            ($c.DeviceFeatures | Sort-Object) | Should -Be ($BlkFeatures | Sort-Object)
            $c.BlockSize | Should -Be ([uint32](Get-Content "/sys/block/$disk/queue/logical_block_size"))
        } else {
            $c | Should -BeNullOrEmpty
            Assert-KernelLacks $e 'GetVdpaDeviceConfigCommand' '6.9'
            # New-VdpaDevice could not check -Feature either, and said why instead of claiming it failed.
            $createWarnings | Should -HaveCount 1
            "$($createWarnings[0])" | Should -Match 'cannot be checked.*Linux 6\.9'
        }
    }
}

Describe 'A net device behind the second PCI bus (pci/0000:21:00.0, NUMA node 1)' {
    BeforeAll {
        # Without CTRL_VQ, so that virtio_vdpa can drive it on both kernels under qemu 11: 6.1's vp_vdpa sizes every queue
        # 256, and qemu 11 refuses a control queue over 64, after which 6.1's virtio_net waits for ever (docs/lab.md).
        $script:R0 = New-VdpaDevice "$P-x0" 0000:21:00.0 -Feature VERSION_1, MAC, STATUS -Driver vhost_vdpa
    }

    It 'shows the function behind the expander bridge as ParentDevicePath, and NUMA node 1' {
        $R0.Parent | Should -Be 'pci/0000:21:00.0'
        $R0.ParentDevicePath | Should -Be (& readlink -f /sys/bus/pci/devices/0000:21:00.0)
        $R0.ParentDevicePath | Should -Not -Match 'pci0000:00/0000:21' -Because 'it sits behind its own host bridge'
        $R0.NumaNode | Should -Be 1
        $R0.NumaNode | Should -Be (Get-SysfsNumaNode 0000:21:00.0)
        (Get-VdpaDevice "$P-x0").NumaNode | Should -Be 1
    }

    It 'is bound to vhost_vdpa with its character device' {
        $R0.Driver | Should -Be 'vhost_vdpa'
        $R0.VhostDevicePath | Should -Match '^/dev/vhost-vdpa-\d+$'
        Get-FileKind $R0.VhostDevicePath | Should -Be 'character special file'
    }

    It 'rebound to virtio_vdpa becomes a netdev with the device''s MAC; its statistics are refused as its driver''s limit' {
        $d = Set-VdpaDevice "$P-x0" -Driver virtio_vdpa -PassThru
        $d.Driver | Should -Be 'virtio_vdpa'
        $d.NetworkInterface | Should -Not -BeNullOrEmpty
        (Get-Content "/sys/class/net/$($d.NetworkInterface)/address") | Should -Be (Get-VdpaDeviceConfig "$P-x0").MacAddress
        $c = Get-VdpaDeviceConfig "$P-x0"
        $c.NegotiatedFeatures | Should -Not -BeNullOrEmpty
        $c.NegotiatedFeatures | Should -Be @((Invoke-IpVdpa dev config show "$P-x0").config["$P-x0"].negotiated_features)
        Get-VdpaStats "$P-x0" -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1 -Because 'one error per device'
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
        "$($e[0])" | Should -Match 'driver of its parent keeps no vendor statistics'
        "$($e[0])" | Should -Not -Match 'vdpa_sim_net'
    }
}

Describe 'Every PCI device together' {
    It 'lists the net devices'' configurations as vdpa -j dev config show does, device by device' {
        # One device at a time: a 6.1 dump stops at the first block device (KernelCapabilities.Tests.ps1).
        $all = Get-VdpaDeviceConfig "$P-*" -WarningAction SilentlyContinue -ErrorAction SilentlyContinue
        foreach ($name in "$P-n0", "$P-x0") {
            $ip = (Invoke-IpVdpa dev config show $name).config[$name]
            $c = $all | Where-Object Name -EQ $name
            $c | Should -HaveCount 1
            $c.MacAddress | Should -Be $ip.mac
            $c.LinkUp | Should -Be ($ip['link '] -eq 'up')
            $c.MaxQueuePairs | Should -Be ($ip['max_vq_pairs'] ?? 1)
        }
    }
}

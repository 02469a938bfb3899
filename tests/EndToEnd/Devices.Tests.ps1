# End-to-end: the cmdlets against the lab kernel's vdpasim_net, vdpasim_blk and vduse parents, checked
# against iproute2's `vdpa -j` for the same kernel state. Runs as root; every test removes what it made.
BeforeAll {
    . (Join-Path $PSScriptRoot 'LabHelpers.ps1')
    Import-VdpaModule
    . (Join-Path $PSScriptRoot 'LabKernel.ps1')
    Add-Type -Path (Join-Path $PSScriptRoot '../../out/testtools/VdpaPS.TestTools.dll')
    # Names no other test file uses, so cleanup by pattern touches only this file's devices.
    $script:P = 'pst'
}

AfterAll {
    Remove-LabDevice "$P-*"
}

Describe 'Get-VdpaParent' {
    It 'agrees with vdpa -j mgmtdev show, parent by parent' {
        $ip = (Invoke-IpVdpa mgmtdev show).mgmtdev
        $parents = Get-VdpaParent
        ($parents.Name | Sort-Object) | Should -Be ($ip.Keys | Sort-Object)
        foreach ($p in $parents) {
            $expected = $ip[$p.Name]
            ($p.SupportedClasses | ForEach-Object { "$_".ToLowerInvariant() }) | Should -Be @($expected.supported_classes) -Because "classes of $($p.Name)"
            $p.MaxQueues | Should -Be $expected.max_supported_vqs -Because "max_supported_vqs of $($p.Name)"
            $p.SupportedFeatureMask | Should -Be (ConvertTo-FeatureMask $expected.dev_features) -Because "dev_features of $($p.Name)"
            if ($p.SupportedClasses.Count -eq 1 -and $p.SupportedClasses[0] -eq 'Net') {
                # iproute2's names, except the bits it knows no name for: its JSON gives their number (40 on a virtio-pci
                # function), which the module names (RING_RESET).
                $names = @($expected.dev_features | ForEach-Object {
                    if ("$_" -match '^(?:bit_)?(\d+)$') { (Get-VdpaInternalType VdpaPS.Netlink.Vdpa.VirtioFeatures)::GetNames([uint64]1 -shl [int]$Matches[1], 'Net')[0] } else { $_ } })
                $p.SupportedFeatures | Should -Be $names -Because 'net feature names are iproute2''s'
            }
        }
    }

    It 'selects by wildcard; a literal miss is a non-terminating ObjectNotFound, a wildcard miss is silent' {
        (Get-VdpaParent 'vdpasim_*').Name | Sort-Object | Should -Be @('vdpasim_blk', 'vdpasim_net')
        $out = Get-VdpaParent 'nope', 'vdpasim_net', 'zz*' -ErrorVariable e -ErrorAction SilentlyContinue
        $out.Name | Should -Be 'vdpasim_net'
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaParentNotFound,VdpaPS.Commands.GetVdpaParentCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'asks the kernel for a literal name (MGMTDEV_GET), dumping only for another spelling or a miss' {
        $trace = Get-VdpaParent vdpasim_net, VDPASIM_BLK -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
        # vdpasim_net: one MGMTDEV_GET. VDPASIM_BLK: the kernel's ENODEV for that spelling, then one dump to resolve it.
        @($trace | Where-Object { $_ -match '^vdpa MGMTDEV_GET: sent .*received 1 reply' }) | Should -HaveCount 1
        @($trace | Where-Object { $_ -match '^vdpa MGMTDEV_GET: sent .*failed: .*ENODEV' }) | Should -HaveCount 1
        @($trace | Where-Object { $_ -match '^vdpa MGMTDEV_GET dump: sent' }) | Should -HaveCount 1
        (Get-VdpaParent vdpasim_net, VDPASIM_BLK).Name | Should -Be @('vdpasim_net', 'vdpasim_blk')
    }

    It 'finds the parent of a piped device' {
        try {
            New-VdpaDevice "$P-pp0" vdpasim_blk -ErrorAction Stop | Out-Null
            (Get-VdpaDevice "$P-pp0" | Get-VdpaParent).Name | Should -Be 'vdpasim_blk'
        } finally {
            Remove-LabDevice "$P-pp0"
        }
    }
}

Describe 'New-VdpaDevice and Get-VdpaDevice on vdpasim_net' {
    AfterEach { Remove-LabDevice "$P-*" }

    It 'creates from a piped parent without taking the parent''s Name as the device name, and emits the device read back' {
        $d = Get-VdpaParent vdpasim_net | New-VdpaDevice -Name "$P-n0"
        $d | Should -BeOfType [VdpaPS.VdpaDevice]
        $d.Name | Should -Be "$P-n0"
        $d.Parent | Should -Be 'vdpasim_net'
        Get-LabDeviceNames | Should -Contain "$P-n0"
        Get-LabDeviceNames | Should -Not -Contain 'vdpasim_net'
    }

    It 'describes every device as vdpa -j dev show does' {
        New-VdpaDevice "$P-n1" vdpasim_net -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-b1" vdpasim_blk -ErrorAction Stop | Out-Null
        $ip = (Invoke-IpVdpa dev show).dev
        $devices = Get-VdpaDevice
        ($devices.Name | Sort-Object) | Should -Be ($ip.Keys | Sort-Object)
        foreach ($d in $devices) {
            $x = $ip[$d.Name]
            @{ Net = 'network'; Block = 'block' }["$($d.Type)"] | Should -Be $x.type
            $d.Parent | Should -Be $x.mgmtdev
            $d.VendorId | Should -Be $x.vendor_id
            $d.MaxQueues | Should -Be $x.max_vqs
            $d.MaxQueueSize | Should -Be $x.max_vq_size
            $d.MinQueueSize | Should -BeGreaterThan 0
        }
    }

    It 'applies -MacAddress and -Mtu, as vdpa -j dev config show reads them' {
        New-VdpaDevice "$P-n2" vdpasim_net -MacAddress 02-11-22-33-44-55 -Mtu 9000 -ErrorVariable e | Out-Null
        $e | Should -HaveCount 0
        $ip = (Invoke-IpVdpa dev config show "$P-n2").config["$P-n2"]
        $ip.mac | Should -Be '02:11:22:33:44:55'
        $ip.mtu | Should -Be 9000
        $c = Get-VdpaDeviceConfig "$P-n2"
        $c | Should -BeOfType [VdpaPS.VdpaNetDeviceConfig]
        $c.MacAddress | Should -Be $ip.mac
        $c.Mtu | Should -Be $ip.mtu
        $c.LinkUp | Should -Be ($ip['link '] -eq 'up')
        $c.LinkAnnounce | Should -Be $ip['link_announce ']
        # iproute2 shows no max_vq_pairs without MQ, where the device has one pair.
        $c.MaxQueuePairs | Should -Be ($ip['max_vq_pairs'] ?? 1)
    }

    It 'takes -Feature as names or as a mask, and the device offers exactly those' {
        # The kernel's bit numbers (uapi virtio_config.h: VERSION_1 32, ACCESS_PLATFORM 33; virtio_net.h: MAC 5,
        # STATUS 16), not the module's table.
        $names = 'VERSION_1', 'ACCESS_PLATFORM', 'MAC'
        $mask = ([uint64]1 -shl 32) -bor ([uint64]1 -shl 33) -bor ([uint64]1 -shl 5)
        # iproute2 lists what the parent offers; vdpasim_net offers STATUS on 6.12, not on 6.1: ask for it where offered.
        $offered = ConvertTo-FeatureMask (Invoke-IpVdpa mgmtdev show vdpasim_net).mgmtdev['vdpasim_net'].dev_features
        if ($offered -band ([uint64]1 -shl 16)) { $names += 'STATUS'; $mask = $mask -bor ([uint64]1 -shl 16) }
        ($offered -band $mask) | Should -Be $mask -Because 'vdpasim_net offers every feature asked for, as iproute2 lists them'
        New-VdpaDevice "$P-f0" vdpasim_net -Feature $names -MacAddress 02:00:00:00:00:10 -ErrorVariable e | Out-Null
        New-VdpaDevice "$P-f1" vdpasim_net -Feature ('0x{0:x}' -f $mask) -ErrorVariable e2 | Out-Null
        @($e) + @($e2) | Should -HaveCount 0
        foreach ($n in "$P-f0", "$P-f1") {
            $c = Get-VdpaDeviceConfig $n
            $c.DeviceFeatureMask | Should -Be $mask -Because "$n offers exactly the asked bits"
            ($c.DeviceFeatures | Sort-Object) | Should -Be ($names | Sort-Object)
        }
    }

    It 'refuses an unknown feature name before the kernel sees it' {
        New-VdpaDevice "$P-f2" vdpasim_net -Feature MAC, NOT_A_FEATURE -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'UnknownVirtioFeature,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$($e[0])" | Should -Match 'NOT_A_FEATURE'
        Get-LabDeviceNames | Should -Not -Contain "$P-f2"
    }

    It 'reports the kernel''s refusals with their own ids: <Case>' -ForEach @(
        @{ Case = 'max queue pairs on vdpasim_net'; Params = @{ Name = 'pst-e0'; Parent = 'vdpasim_net'; MaxQueuePairs = 2 }
           Id = 'VdpaAttributeNotSupported'; Category = 'NotImplemented'; Text = '-MaxQueuePairs.*provided attributes are not supported' }
        @{ Case = 'a MAC on vdpasim_blk'; Params = @{ Name = 'pst-e1'; Parent = 'vdpasim_blk'; MacAddress = '02:00:00:00:00:01' }
           Id = 'VdpaAttributeNotSupported'; Category = 'NotImplemented'; Text = '-MacAddress.*provided attributes are not supported' }
        @{ Case = 'an unknown parent'; Params = @{ Name = 'pst-e2'; Parent = 'no_such_parent' }
           Id = 'VdpaParentNotFound'; Category = 'ObjectNotFound'; Text = "'no_such_parent'.*Fail to find the specified management device" }
    ) {
        $a = $Params
        New-VdpaDevice @a -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be "$Id,VdpaPS.Commands.NewVdpaDeviceCommand"
        $e[0].CategoryInfo.Category | Should -Be $Category
        $e[0].Exception | Should -BeOfType [VdpaPS.Netlink.Protocol.NetlinkException]
        "$($e[0])" | Should -Match $Text
        Get-LabDeviceNames | Should -Not -Contain $a.Name
    }

    It 'refuses a duplicate name with ResourceExists, and leaves the first device alone' {
        New-VdpaDevice "$P-d0" vdpasim_net -Mtu 2000 -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-d0" vdpasim_blk -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceExists,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $e[0].Exception.Errno | Should -Be 17
        # What a script catches reads as the displayed error; the kernel's own answer is inside it.
        $caught = try { New-VdpaDevice "$P-d0" vdpasim_blk -ErrorAction Stop } catch { $_ }
        $caught.Exception.Message | Should -Match "^A vDPA device named '$P-d0' already exists: the kernel answered EEXIST"
        $caught.Exception.Message | Should -Be "$($e[0])"
        $caught.Exception.InnerException.Errno | Should -Be 17
        $caught.Exception.InnerException.Message | Should -Match '^vdpa DEV_NEW: the kernel answered EEXIST'
        (Invoke-IpVdpa dev show "$P-d0").dev["$P-d0"].mgmtdev | Should -Be 'vdpasim_net'
    }

    It 'creates one device per name in one call, each read back; a name the kernel refuses is that name''s error alone' {
        $out = New-VdpaDevice "$P-m0", "$P-m1", "$P-m0", "$P-m2" vdpasim_net -Mtu 1400 -ErrorVariable e -ErrorAction SilentlyContinue
        @($out).Name | Should -Be "$P-m0", "$P-m1", "$P-m2"
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceExists,VdpaPS.Commands.NewVdpaDeviceCommand'
        "$($e[0])" | Should -Match "'$P-m0' already exists"
        $configs = (Invoke-IpVdpa dev config show).config
        foreach ($n in "$P-m0", "$P-m1", "$P-m2") { $configs[$n].mtu | Should -Be 1400 -Because "$n was created with the call's MTU" }
        # One MAC address for several devices is refused before anything is created.
        New-VdpaDevice "$P-m3", "$P-m4" vdpasim_net -MacAddress 02:00:00:00:00:33 -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2 | Should -HaveCount 1
        $e2[0].FullyQualifiedErrorId | Should -Be 'InvalidMacAddress,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e2[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-LabDeviceNames | Should -Not -Contain "$P-m3"
    }

    It 'checks input before the kernel: <Case>' -ForEach @(
        @{ Case = 'a MAC with five bytes'; Params = @{ Name = 'pst-i2'; Parent = 'vdpasim_net'; MacAddress = '02:00:00:00:01' }; Id = 'InvalidMacAddress' }
        @{ Case = 'a multicast MAC'; Params = @{ Name = 'pst-i3'; Parent = 'vdpasim_net'; MacAddress = '01:00:5e:00:00:01' }; Id = 'InvalidMacAddress' }
        @{ Case = 'a name with a slash'; Params = @{ Name = 'pst/i4'; Parent = 'vdpasim_net' }; Id = 'InvalidVdpaDeviceName' }
        @{ Case = 'a name with a space'; Params = @{ Name = 'pst i5'; Parent = 'vdpasim_net' }; Id = 'InvalidVdpaDeviceName' }
        @{ Case = 'a parent name ending in a slash'; Params = @{ Name = 'pst-i7'; Parent = 'pci/' }; Id = 'InvalidVdpaParentName' }
    ) {
        $a = $Params
        $verbose = New-VdpaDevice @a -ErrorVariable e -ErrorAction SilentlyContinue -Verbose 4>&1
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be "$Id,VdpaPS.Commands.NewVdpaDeviceCommand"
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        # Nothing went to the kernel: no request was traced, and no device exists.
        @($verbose | Where-Object { "$_" -match 'DEV_NEW' }) | Should -HaveCount 0
        Get-LabDeviceNames | Should -Not -Contain $a.Name
    }

    It 'maps the kernel''s own refusal of MTU 10 (its policy, ERANGE) as InvalidArgument' {
        # The cmdlet never sends such an MTU; the core client does, to prove the mapping of the kernel's answer.
        $client = Open-VdpaCoreClient
        try {
            $spec = (New-VdpaInternalObject VdpaPS.Netlink.Vdpa.VdpaDeviceSpec @{ Name = "$P-k0"; Parent = 'vdpasim_net'; Mtu = 10 })
            $caught = $null
            try { $client.CreateDevice($spec) } catch { $caught = $_.Exception.InnerException ?? $_.Exception }
            $caught | Should -BeOfType [VdpaPS.Netlink.Protocol.NetlinkException]
            $caught.Errno | Should -Be 34
            $r = (Get-VdpaInternalType VdpaPS.Errors.VdpaErrors)::FromNetlink($caught, (Get-VdpaInternalType VdpaPS.Errors.ErrorTarget)::Of($spec), 'Device')
            $r.FullyQualifiedErrorId | Should -Be 'VdpaValueOutOfRange'
            $r.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $r.ErrorDetails.Message | Should -Match 'out of range'
        } finally { $client.Dispose() }
    }

    It 'reports, never drops silently, an attribute the kernel accepted but did not apply' {
        # As on a kernel that does not know DEV_NET_CFG_MTU (13), which would parse DEV_NEW leniently and ignore it: the
        # family cache's internal seam hands New-VdpaDevice's own client this kernel's family with maxattr 13, as nlctrl
        # on such a kernel describes it. Everything else is the cmdlet's real path against the real kernel.
        $cache = (Get-VdpaInternalType VdpaPS.Netlink.Protocol.GenericFamilyCache)::Shared
        $client = Open-VdpaCoreClient
        try { $f = $client.Family } finally { $client.Dispose() }
        $older = New-VdpaInternalObject VdpaPS.Netlink.Protocol.GenericNetlinkFamily -ArgumentList $f.Name, $f.Id, $f.Version, $f.HeaderSize, 13, $f.Operations, $f.MulticastGroups
        $remember = (Get-VdpaInternalType VdpaPS.Netlink.Protocol.GenericFamilyCache).GetMethod('Remember', [System.Reflection.BindingFlags]'Instance, NonPublic')
        $remember.Invoke($cache, @($older))
        try {
            $out = New-VdpaDevice "$P-o0" vdpasim_net -Mtu 9000 -MacAddress 02:00:00:00:00:21 -Verbose -WarningVariable w -ErrorVariable e -ErrorAction SilentlyContinue 3>$null 4>&1
        } finally { $cache.Forget('vdpa') }
        $d = $out | Where-Object { $_ -is [VdpaPS.VdpaDevice] }
        $sent = @($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match '^Creating .*DEV_NEW' })
        $d.Name | Should -Be "$P-o0"
        $w | Should -HaveCount 1
        "$($w[0])" | Should -Match '^This kernel''s vdpa family does not know -Mtu \(attribute 13, DEV_NET_CFG_MTU'
        # Not sent: the request carried the MAC and no MTU.
        $sent | Should -HaveCount 1
        $sent[0].Message | Should -Match 'DEV_NET_CFG_MACADDR=02:00:00:00:00:21'
        $sent[0].Message | Should -Not -Match 'DEV_NET_CFG_MTU'
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotApplied,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidResult'
        "$($e[0])" | Should -Match '-Mtu was not applied: 9000 was asked, the device has 1500'
        "$($e[0])" | Should -Match 'does not know DEV_NET_CFG_MTU \(Linux 5\.16\)'
        # The kernel agrees: the MAC, which the "older kernel" knew, was applied and not reported; the MTU was not.
        $config = (Invoke-IpVdpa dev config show "$P-o0").config["$P-o0"]
        $config.mac | Should -Be '02:00:00:00:00:21'
        $config.mtu | Should -Be 1500
        # The next client asks nlctrl again: the seam is gone.
        $client = Open-VdpaCoreClient
        try { $client.Family.MaxAttribute | Should -Be $f.MaxAttribute } finally { $client.Dispose() }
    }

    It 'changes nothing under -WhatIf' {
        New-VdpaDevice "$P-w0" vdpasim_net -WhatIf | Should -BeNullOrEmpty
        Get-LabDeviceNames | Should -Not -Contain "$P-w0"
    }

    It 'says with -Verbose what it sent and what came back' {
        $v = New-VdpaDevice "$P-v0" vdpasim_net -Mtu 1400 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $text = $v.Message -join "`n"
        $text | Should -Match "DEV_NEW: DEV_NAME=$P-v0 MGMTDEV_DEV_NAME=vdpasim_net DEV_NET_CFG_MTU=1400"
        $text | Should -Match 'vdpa DEV_NEW: sent \d+ bytes'
        $text | Should -Match 'vdpa DEV_GET: sent \d+ bytes .*received 1 reply'
    }

    It 'filters by name and parent; a literal miss is ObjectNotFound, a wildcard miss is silent' {
        New-VdpaDevice "$P-g0" vdpasim_net -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-g1" vdpasim_blk -ErrorAction Stop | Out-Null
        (Get-VdpaDevice "$P-g*").Name | Sort-Object | Should -Be @("$P-g0", "$P-g1")
        (Get-VdpaDevice -Parent vdpasim_blk).Name | Should -Be "$P-g1"
        (Get-VdpaParent vdpasim_net | Get-VdpaDevice).Name | Should -Be "$P-g0"
        (Get-VdpaDevice "$P-g*" -Parent 'vdpasim_*').Count | Should -Be 2
        $out = Get-VdpaDevice "$P-g0", "$P-nope", "$P-zz*" -ErrorVariable e -ErrorAction SilentlyContinue
        $out.Name | Should -Be "$P-g0"
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.GetVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        "$($e[0])" | Should -Match "'$P-nope'"
        # A literal name alone goes to the kernel's doit, whose answer is kept in the message.
        Get-VdpaDevice "$P-nope" -ErrorVariable e1 -ErrorAction SilentlyContinue
        $e1[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.GetVdpaDeviceCommand'
        "$($e1[0])" | Should -Match 'device not found'
        Get-VdpaDevice -Parent no_such_parent -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -Be 'VdpaParentNotFound,VdpaPS.Commands.GetVdpaDeviceCommand'
    }

    It 'matches a device name literal or wildcard with the same case rule, the kernel''s' {
        New-VdpaDevice "$P-c0" vdpasim_net -ErrorAction Stop | Out-Null
        $upper = "$P-c0".ToUpperInvariant()
        # The kernel tells the cases apart (DEV_GET of the upper-case name finds nothing), so a wildcard does too.
        Get-VdpaDevice $upper -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.GetVdpaDeviceCommand'
        Get-VdpaDevice "$($upper.Substring(0, $upper.Length - 1))*" | Should -BeNullOrEmpty
        Get-VdpaDeviceConfig "$($upper.Substring(0, $upper.Length - 1))*" | Should -BeNullOrEmpty
        (Get-VdpaDevice "$P-c*").Name | Should -Be "$P-c0"
        # A parent is resolved in any case, literal or wildcard.
        (Get-VdpaDevice "$P-c*" -Parent 'VDPASIM_NET').Name | Should -Be "$P-c0"
        (Get-VdpaDevice "$P-c*" -Parent 'VDPASIM_N*').Name | Should -Be "$P-c0"
    }

    It 'completes -Name, -Parent and -Feature from the live kernel' {
        New-VdpaDevice "$P-c0" vdpasim_net -ErrorAction Stop | Out-Null
        $line = "Get-VdpaDevice -Name $P-c"
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Contain "$P-c0"
        $line = 'New-VdpaDevice -Name x -Parent vdpasim_'
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Sort-Object | Should -Be @('vdpasim_blk', 'vdpasim_net')
        $line = 'New-VdpaDevice -Name x -Parent vdpasim_blk -Feature FL'
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Contain 'FLUSH'
        $line = 'New-VdpaDevice -Name x -Parent vdpasim_net -Feature CTRL_M'
        (TabExpansion2 $line $line.Length).CompletionMatches.CompletionText | Should -Be 'CTRL_MAC_ADDR'
    }
}

Describe 'vdpasim_blk devices' {
    AfterEach { Remove-LabDevice "$P-*" }

    It 'creates a block device and decodes its configuration' {
        $d = New-VdpaDevice "$P-b0" vdpasim_blk
        $d.Type | Should -Be 'Block'
        $c = Get-VdpaDeviceConfig "$P-b0" -ErrorVariable e -ErrorAction SilentlyContinue
        if (-not $HasBlockConfig) { Assert-KernelLacks $e 'GetVdpaDeviceConfigCommand' '6.9'; return }
        $c | Should -BeOfType [VdpaPS.VdpaBlockDeviceConfig]
        # Capacity and limits are compared with the disk's sysfs in Statistics.Tests.ps1, where virtio_blk is bound.
        # The decoded fields follow the offered features (vdpa.c only sends a field when its feature is offered).
        ($null -ne $c.BlockSize) | Should -Be ($c.DeviceFeatures -contains 'BLK_SIZE')
        ($null -ne $c.SegmentMax) | Should -Be ($c.DeviceFeatures -contains 'SEG_MAX')
        ($null -ne $c.MaxDiscardSectors) | Should -Be ($c.DeviceFeatures -contains 'DISCARD')
        $c.ReadOnly | Should -Be ($c.DeviceFeatures -contains 'RO')
        $c.NegotiatedFeatures | Should -HaveCount 0 -Because 'no driver is bound'
        # iproute2 6.1 prints nothing for a block config: it is an object with no keys.
        (Invoke-IpVdpa dev config show "$P-b0").config["$P-b0"].Count | Should -Be 0
    }

    It 'answers DEV_ATTR_SET on a block device with a warning only, which Set-VdpaDevice reports as not applied' {
        New-VdpaDevice "$P-b1" vdpasim_blk -ErrorAction Stop | Out-Null
        Set-VdpaDevice "$P-b1" -MacAddress 02:00:00:00:00:31 -PassThru -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        if (-not $CanSetMac) { Assert-KernelLacks $e 'SetVdpaDeviceCommand' '6.12'; return }
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotApplied,VdpaPS.Commands.SetVdpaDeviceCommand'
        "$($e[0])" | Should -Match 'device not supported'
    }

    It 'has no queue statistics: NotImplemented' {
        New-VdpaDevice "$P-b2" vdpasim_blk -ErrorAction Stop | Out-Null
        Get-VdpaStats "$P-b2" -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -HaveCount 1 -Because 'one error per device, not one per queue'
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
        $e[0].CategoryInfo.Category | Should -Be 'NotImplemented'
    }
}

Describe 'vduse devices' {
    BeforeAll {
        $script:Vduse = [System.Collections.Generic.List[object]]::new()
        function New-LabVduse([string] $Name, [string] $Kind, [string] $Mac = '02:00:00:00:00:01', [uint16] $Mtu = 1500) {
            $v = [VdpaPS.TestTools.VduseDevice]::Create($Name, $Kind, $Mac, $Mtu, 2)
            $script:Vduse.Add($v)
            return $v
        }
        # A vduse parent that creates net devices lists the net class (6.12's does); 6.1's creates block devices only.
        $script:VduseKind = if ((Get-VdpaParent vduse).SupportedClasses -contains 'Net') { 'net' } else { 'blk' }
    }

    AfterEach {
        try {
            Remove-LabDevice "$P-*"
        } finally {
            $failed = @(foreach ($v in $script:Vduse) { $v.Dispose(); if ($v.DisposeError) { "$($v.Name): $($v.DisposeError)" } })
            $script:Vduse.Clear()
            if ($failed) { throw "VDUSE cleanup failed: $($failed -join '; ')" }
        }
    }

    It 'creates a net device on a VDUSE device, and shows the MAC and MTU the VDUSE device offers' {
        if ($VduseKind -ne 'net') {
            # The kernel refuses the VDUSE device itself, as its vduse parent's classes say.
            { New-LabVduse "$P-u0" net } | Should -Throw
            "$((Get-VdpaParent vduse).SupportedClasses)" | Should -Be 'Block'
            return
        }
        New-LabVduse "$P-u0" net '02:5e:00:00:00:07' 1280 | Out-Null
        $d = Get-VdpaParent vduse | New-VdpaDevice -Name "$P-u0"
        $d.Type | Should -Be 'Net'
        $d.Parent | Should -Be 'vduse'
        $ip = (Invoke-IpVdpa dev show "$P-u0").dev["$P-u0"]
        $ip.type | Should -Be 'network'
        $d.MaxQueues | Should -Be $ip.max_vqs
        $d.MaxQueueSize | Should -Be $ip.max_vq_size
        $c = Get-VdpaDeviceConfig "$P-u0"
        $c.MacAddress | Should -Be '02:5e:00:00:00:07'
        $c.Mtu | Should -Be 1280
        $ipc = (Invoke-IpVdpa dev config show "$P-u0").config["$P-u0"]
        $c.MacAddress | Should -Be $ipc.mac
        $c.Mtu | Should -Be $ipc.mtu
    }

    It 'creates a block device on a VDUSE device' {
        New-LabVduse "$P-u1" blk | Out-Null
        $d = New-VdpaDevice "$P-u1" vduse
        $d.Type | Should -Be 'Block'
        $c = Get-VdpaDeviceConfig "$P-u1" -ErrorVariable e -ErrorAction SilentlyContinue
        if (-not $HasBlockConfig) { Assert-KernelLacks $e 'GetVdpaDeviceConfigCommand' '6.9'; return }
        $c | Should -BeOfType [VdpaPS.VdpaBlockDeviceConfig]
        # What VduseDevice wrote into the config space and offered: capacity 0, seg_max 128, blk_size 512;
        # SEG_MAX (2), BLK_SIZE (6), VERSION_1 (32), ACCESS_PLATFORM (33).
        $c.Capacity | Should -Be 0
        $c.SegmentMax | Should -Be 128
        $c.BlockSize | Should -Be 512
        $c.DeviceFeatureMask | Should -Be (([uint64]1 -shl 2) -bor ([uint64]1 -shl 6) -bor ([uint64]1 -shl 32) -bor ([uint64]1 -shl 33))
        # Removed through the cmdlet, the VDUSE device is free again: destroying it no longer answers EBUSY.
        $d | Remove-VdpaDevice -Confirm:$false
        Get-LabDeviceNames | Should -Not -Contain "$P-u1"
        $script:Vduse[0].Dispose()
        $script:Vduse[0].DisposeError | Should -BeNullOrEmpty
        [VdpaPS.TestTools.VduseDevice]::Exists("$P-u1") | Should -BeFalse
    }

    It 'refuses a MAC: vduse takes no attributes' {
        New-LabVduse "$P-u2" $VduseKind | Out-Null
        New-VdpaDevice "$P-u2" vduse -MacAddress 02:00:00:00:00:41 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaAttributeNotSupported,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'NotImplemented'
        "$($e[0])" | Should -Match "-MacAddress.*$([regex]::Escape($RefusedAttributesText))"
    }

    It 'says what is missing when no VDUSE device has the name' {
        New-VdpaDevice "$P-u3" vduse -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaInvalidArgument,VdpaPS.Commands.NewVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$($e[0])" | Should -Match 'VDUSE_CREATE_DEV'
    }

    It 'cannot change the MAC of a vduse device, nor read its statistics' {
        New-LabVduse "$P-u4" $VduseKind | Out-Null
        New-VdpaDevice "$P-u4" vduse -ErrorAction Stop | Out-Null
        Set-VdpaDevice "$P-u4" -MacAddress 02:00:00:00:00:42 -ErrorVariable e -ErrorAction SilentlyContinue
        if ($CanSetMac) {
            $e[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.SetVdpaDeviceCommand'
            "$($e[0])" | Should -Match 'Operation not supported by the device'
        } else {
            Assert-KernelLacks $e 'SetVdpaDeviceCommand' '6.12'
        }
        Get-VdpaStats "$P-u4" -QueueIndex 0 -ErrorVariable e2 -ErrorAction SilentlyContinue
        $e2[0].FullyQualifiedErrorId | Should -Be 'VdpaOperationNotSupported,VdpaPS.Commands.GetVdpaStatsCommand'
    }
}

Describe 'Remove-VdpaDevice' {
    BeforeEach {
        foreach ($n in 'r0', 'r1', 'r2') { New-VdpaDevice "$P-$n" vdpasim_net -ErrorAction Stop | Out-Null }
        New-VdpaDevice "$P-keep" vdpasim_blk -ErrorAction Stop | Out-Null
    }
    AfterEach { Remove-LabDevice "$P-*" }

    It 'removes the piped devices of a wildcard, and only those' {
        Get-VdpaDevice "$P-r*" | Remove-VdpaDevice -Confirm:$false
        $left = Get-LabDeviceNames
        $left | Should -Not -Contain "$P-r0"
        $left | Should -Not -Contain "$P-r2"
        $left | Should -Contain "$P-keep"
    }

    It 'takes piped names by value' {
        "$P-r0", "$P-r1" | Remove-VdpaDevice -Confirm:$false
        $left = Get-LabDeviceNames
        $left | Should -Not -Contain "$P-r0"
        $left | Should -Not -Contain "$P-r1"
        $left | Should -Contain "$P-r2"
    }

    It 'removes by name with wildcards, and emits what it removed with -PassThru' {
        $removed = Remove-VdpaDevice "$P-r1", "$P-r2*" -Confirm:$false -PassThru
        $removed.Name | Sort-Object | Should -Be @("$P-r1", "$P-r2")
        $removed[0] | Should -BeOfType [VdpaPS.VdpaDevice]
        Get-LabDeviceNames | Should -Contain "$P-r0"
        Get-LabDeviceNames | Should -Not -Contain "$P-r1"
    }

    It 'changes nothing under -WhatIf, and names each device it would remove' {
        $before = Get-LabDeviceNames
        Get-VdpaDevice "$P-*" | Remove-VdpaDevice -WhatIf
        Get-LabDeviceNames | Sort-Object | Should -Be ($before | Sort-Object)
    }

    It 'is ConfirmImpact High: without -Confirm:$false it asks, and a non-interactive session cannot answer' -Skip:(-not ([Environment]::GetCommandLineArgs() -contains '-NonInteractive')) {
        $threw = $false
        try { Remove-VdpaDevice "$P-r0" -ErrorAction Stop } catch { $threw = $true }
        $threw | Should -BeTrue
        Get-LabDeviceNames | Should -Contain "$P-r0"
    }

    It 'reports a literal miss and a device that vanished as ObjectNotFound, and goes on' {
        $gone = Get-VdpaDevice "$P-r0"
        Remove-LabDevice "$P-r0"
        $gone, (Get-VdpaDevice "$P-r1") | Remove-VdpaDevice -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.RemoveVdpaDeviceCommand'
        "$($e[0])" | Should -Match 'device not found'
        Get-LabDeviceNames | Should -Not -Contain "$P-r1"
        Remove-VdpaDevice "$P-nope", "$P-none*" -Confirm:$false -ErrorVariable e2 -ErrorAction SilentlyContinue
        $e2 | Should -HaveCount 1
        $e2[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.RemoveVdpaDeviceCommand'
    }
}

Describe 'Set-VdpaDevice on vdpasim_net' {
    BeforeEach { New-VdpaDevice "$P-s0" vdpasim_net -ErrorAction Stop | Out-Null }
    AfterEach { Remove-LabDevice "$P-*" }

    It 'sets the MAC address (DEV_ATTR_SET), as vdpa -j reads it back' {
        if (-not $CanSetMac) {
            Set-VdpaDevice "$P-s0" -MacAddress 02:ab:cd:00:00:01 -PassThru -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Assert-KernelLacks $e 'SetVdpaDeviceCommand' '6.12'
            return
        }
        $c = Get-VdpaDevice "$P-s0" | Set-VdpaDevice -MacAddress 02:ab:cd:00:00:01 -PassThru
        $c.MacAddress | Should -Be '02:ab:cd:00:00:01'
        (Invoke-IpVdpa dev config show "$P-s0").config["$P-s0"].mac | Should -Be '02:ab:cd:00:00:01'
        Set-VdpaDevice "$P-s0" -MacAddress 02:ab:cd:00:00:02 | Should -BeNullOrEmpty -Because 'only -PassThru emits'
    }

    It 'changes nothing under -WhatIf' {
        $before = (Invoke-IpVdpa dev config show "$P-s0").config["$P-s0"].mac
        Set-VdpaDevice "$P-s0" -MacAddress 02:ab:cd:00:00:03 -WhatIf
        (Invoke-IpVdpa dev config show "$P-s0").config["$P-s0"].mac | Should -Be $before
    }

    It 'refuses a bad MAC before the kernel, and reports an unknown device' {
        Set-VdpaDevice "$P-s0" -MacAddress 'zz:00:00:00:00:00' -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'InvalidMacAddress,VdpaPS.Commands.SetVdpaDeviceCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        Set-VdpaDevice "$P-nope" -MacAddress 02:00:00:00:00:01 -ErrorVariable e2 -ErrorAction SilentlyContinue
        # Without DEV_ATTR_SET nothing is sent, so the kernel is not asked whether the device exists.
        $e2[0].FullyQualifiedErrorId | Should -Be "$(if ($CanSetMac) { 'VdpaDeviceNotFound' } else { 'VdpaNotSupportedByKernel' }),VdpaPS.Commands.SetVdpaDeviceCommand"
    }
}

Describe 'Get-VdpaDeviceConfig' {
    AfterEach { Remove-LabDevice "$P-*" }

    It 'lists net and block configurations together, agreeing with vdpa -j dev config show' {
        New-VdpaDevice "$P-x0" vdpasim_net -MacAddress 02:00:00:00:00:51 -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-x1" vdpasim_blk -ErrorAction Stop | Out-Null
        $all = Get-VdpaDeviceConfig "$P-x*" -ErrorVariable ce -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        if ($HasBlockConfig) {
            $all | Should -HaveCount 2
            ($all | Where-Object Name -EQ "$P-x1") | Should -BeOfType [VdpaPS.VdpaBlockDeviceConfig]
        } else {
            $all.Name | Should -Be "$P-x0"
            Assert-KernelLacks $ce 'GetVdpaDeviceConfigCommand' '6.9'
        }
        $ip = (Invoke-IpVdpa dev config show).config
        $net = $all | Where-Object Name -EQ "$P-x0"
        $net.MacAddress | Should -Be $ip["$P-x0"].mac
        $net.Mtu | Should -Be $ip["$P-x0"].mtu
        Get-VdpaDevice "$P-x0" | Get-VdpaDeviceConfig | ForEach-Object Name | Should -Be "$P-x0"
        Get-VdpaDeviceConfig "$P-nope" -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'VdpaDeviceNotFound,VdpaPS.Commands.GetVdpaDeviceConfigCommand'
    }

    It 'renders every output type through its own view' {
        New-VdpaDevice "$P-y0" vdpasim_net -ErrorAction Stop | Out-Null
        New-VdpaDevice "$P-y1" vdpasim_blk -ErrorAction Stop | Out-Null
        $text = Get-VdpaDeviceConfig "$P-y*" -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Out-String -Width 200
        $text | Should -Match 'Link\s+: up'
        if ($HasBlockConfig) { $text | Should -Match 'Capacity\s+: \d+ sectors' }
        (Get-VdpaDevice "$P-y*" | Out-String -Width 200) | Should -MatchExactly "$P-y1\s+Block\s+vdpasim_blk"
    }
}

# The module's views at the width of a terminal: every view (default, table, list and named) of every output type,
# rendered at 80 and 120 columns from objects built with realistic values (PCI parents, 35 feature names, 64-bit
# masks, /dev/vhost-vdpa-12, a 15-character interface name, counters named with spaces, 20-digit values). A view
# fails here when it cuts a value (PowerShell's "…"), drops a column, or breaks a word across lines.
#
# The expected labels and values are written out below, not read from the format file or the model: what the
# reader should see, whole.
BeforeDiscovery {
    $script:Widths = @(80, 120)
    # Net feature names with their bit numbers from the virtio specification (5.1.3), for a parent offering 35.
    $script:NetFeatureBits = [ordered]@{
        CSUM = 0; GUEST_CSUM = 1; CTRL_GUEST_OFFLOADS = 2; MTU = 3; MAC = 5; GUEST_TSO4 = 7; GUEST_TSO6 = 8; GUEST_ECN = 9
        GUEST_UFO = 10; HOST_TSO4 = 11; HOST_TSO6 = 12; HOST_ECN = 13; HOST_UFO = 14; MRG_RXBUF = 15; STATUS = 16
        CTRL_VQ = 17; CTRL_RX = 18; CTRL_VLAN = 19; CTRL_RX_EXTRA = 20; GUEST_ANNOUNCE = 21; MQ = 22; CTRL_MAC_ADDR = 23
        NOTIFY_ON_EMPTY = 24; ANY_LAYOUT = 27; VERSION_1 = 32; ACCESS_PLATFORM = 33; RING_PACKED = 34; IN_ORDER = 35
        ORDER_PLATFORM = 36; SR_IOV = 37; NOTIFICATION_DATA = 38; RING_RESET = 40; HASH_REPORT = 57; RSS = 60; SPEED_DUPLEX = 63
    }
    $allFeatures = @($NetFeatureBits.Keys)
    $negotiated = @($allFeatures[0..20])
    $mask = [uint64]0
    foreach ($bit in $NetFeatureBits.Values) { $mask = $mask -bor ([uint64]1 -shl $bit) }
    $fullMask = '0x{0:x}' -f $mask
    # Common features: the first 21 names; one parent has the other 14 beyond them.
    $common = [uint64]0
    foreach ($name in $allFeatures[0..20]) { $common = $common -bor ([uint64]1 -shl $NetFeatureBits[$name]) }
    $commonMask = '0x{0:x}' -f $common
    $extraMask = '0x{0:x}' -f ($mask -bxor $common)
    $bridgedPath = '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.2'

    # One case per view. Set names a set of samples built in BeforeAll; Format is how it is shown (Out-String alone is the
    # default view) and Kind what that gives; Labels are exactly the column headers of the table (of each table, when
    # grouped) or the labels of the list, in order; Values must each show whole.
    $script:Cases = @(
        @{ View = 'parents, default (table)'; Set = 'Parents'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'SupportedClasses', 'MaxQueues', 'Features'
            Values = 'pci/0000:03:00.2', 'vduse', 'vdpasim_net', 'Net, Block', '257', '35', '0' }
        @{ View = 'parents, list'; Set = 'Parents'; Format = 'list'; Kind = 'list'
            Labels = 'Name', 'BusName', 'DeviceName', 'SupportedClasses', 'MaxQueues', 'SupportedFeatures', 'SupportedFeatureMask', 'PciDriver', 'PhysicalFunction'
            Values = @('pci/0000:03:00.2', 'pci', '0000:03:00.2', 'Net, Block', '257', $fullMask, 'mlx5_core', '0000:03:00.0') + $allFeatures }
        @{ View = 'physical functions, default (table)'; Set = 'PhysicalFunctions'; Format = 'default'; Kind = 'table'
            Labels = 'PciAddress', 'Driver', 'NetworkInterface', 'TotalVfs', 'VfCount', 'Parents', 'Devices'
            Values = '0000:3b:00.0', '0000:01:00.0', 'mlx5_core', 'virtio-pci', 'enp59s0f0np0', '127', '3', '0' }
        @{ View = 'physical functions, list'; Set = 'PhysicalFunctions'; Format = 'list'; Kind = 'list'
            Labels = 'PciAddress', 'Driver', 'NetworkInterface', 'NumaNode', 'TotalVfs', 'VfCount', 'AutoProbe', 'VirtualFunctions'
            Values = '0000:3b:00.0', 'mlx5_core', 'enp59s0f0np0', '127', 'True', '0000:3b:00.2 mlx5_core parent: vdpa-tenant-42, vdpa-tenant-43',
                '0000:3b:00.3 mlx5_core parent', '0000:3b:00.4 (no driver)' }
        @{ View = 'virtual functions, default (table)'; Set = 'VirtualFunctions'; Format = 'default'; Kind = 'table'
            Labels = 'PciAddress', 'Driver', 'ParentName', 'Devices'
            Values = '0000:3b:00.2', '0000:3b:00.4', 'mlx5_core', 'pci/0000:3b:00.3', 'vdpa-tenant-42, vdpa-tenant-43' }
        @{ View = 'physical function definitions, default (table)'; Set = 'PfDefinitions'; Format = 'default'; Kind = 'table'
            Labels = 'PciAddress', 'VfCount', 'VfDriver'
            Values = '0000:3b:00.0', '0000:01:00.0', '127', 'mlx5_core', 'vp-vdpa' }
        @{ View = 'devices, default (table)'; Set = 'Devices'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'Type', 'Parent', 'Driver', 'HostDevice', 'MaxQueues'
            Values = 'vdpa-tenant-42', 'vdpa-tenant-43', 'blk-scratch0', 'vdpa7', 'Net', 'Block', 'pci/0000:03:00.2', 'pci/0000:03:00.3',
                'vdpasim_blk', 'vhost_vdpa', 'virtio_vdpa', '/dev/vhost-vdpa-12', 'enp3s0f3v15vdpa', '/dev/vdb', '257' }
        @{ View = 'devices, list'; Set = 'Devices'; Format = 'list'; Kind = 'list'
            Labels = 'Name', 'Type', 'Parent', 'Driver', 'VhostDevicePath', 'NetworkInterface', 'BlockDevice', 'MaxQueues',
                'MaxQueueSize', 'MinQueueSize', 'VendorId', 'ParentDevicePath', 'NumaNode', 'IsManaged'
            Values = 'vdpa-tenant-42', 'Net', 'Block', 'pci/0000:03:00.2', 'vhost_vdpa', 'virtio_vdpa', '/dev/vhost-vdpa-12',
                'enp3s0f3v15vdpa', '/dev/vdb', '257', '256', '0x15b3', '/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.3', 'False' }
        @{ View = 'devices, named table Queues'; Set = 'Devices'; Format = 'table'; Kind = 'table'; Name = 'Queues'
            Labels = 'Name', 'Type', 'MaxQueues', 'MaxQueueSize', 'MinQueueSize', 'VendorId'
            Values = 'vdpa-tenant-42', 'blk-scratch0', 'Net', 'Block', '257', '1024', '64', '0x15b3' }
        @{ View = 'configurations, default (list)'; Set = 'Configs'; Format = 'default'; Kind = 'list'
            Labels = 'Name', 'Type', 'MacAddress', 'Link', 'LinkAnnounce', 'Mtu', 'MaxQueuePairs', 'DeviceFeatures',
                'NegotiatedFeatures', 'Capacity', 'BlockSize', 'SizeMax', 'SegmentMax', 'QueueCount', 'Topology', 'Discard', 'WriteZeroes', 'ReadOnly', 'Flush'
            Values = @('vdpa-tenant-42', 'blk-scratch0', 'Net', 'Block', '02:00:00:00:00:01', 'up', '9000', '128',
                '262144 sectors (134,217,728 bytes)', '4294967295', 'sectors,', 'segments,', 'alignment', 'exponent', 'SIZE_MAX', 'BLK_SIZE') + $allFeatures }
        @{ View = 'configurations, table'; Set = 'Configs'; Format = 'table'; Kind = 'table'
            Labels = 'Name', 'Type', 'MacAddress', 'Link', 'Mtu', 'Capacity'
            Values = 'vdpa-tenant-42', 'blk-scratch0', 'Net', 'Block', '02:00:00:00:00:01', 'up', '9000', '262144 sectors' }
        @{ View = 'statistics, default (one table per device)'; Set = 'Statistics'; Format = 'default'; Kind = 'table'
            Labels = 'Queue', 'Type', 'Counters'
            Values = 'vdpa-tenant-42', 'sim0', 'Rx', 'Tx', 'Control', 'received_desc', 'completed_desc', '18446744073709551615',
                'rx packets', 'rx overruns', 'tx errors', 'cvq successes', '98765432109' }
        @{ View = 'statistics, list'; Set = 'Statistics'; Format = 'list'; Kind = 'list'
            Labels = 'Name', 'QueueIndex', 'QueueType', 'Type', 'QueuePairs', 'NegotiatedFeatures', 'Counters'
            Values = @('vdpa-tenant-42', 'sim0', 'Rx', 'Control', 'Net', 'received_desc', '18446744073709551615', 'rx overruns',
                'cvq successes') + $negotiated }
        @{ View = 'counters, default (table)'; Set = 'Counters'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'Value'
            Values = 'rx packets', 'rx bytes', 'rx overruns', '98765432109', '18446744073709551615' }
        @{ View = 'device events, default (table)'; Set = 'Events'; Format = 'default'; Kind = 'table'
            Labels = 'Time', 'Action', 'Name', 'Driver'
            Values = '2026-12-01', '14:05:09.123', '23:59:59.999', 'Added', 'Bound', 'Unbound', 'Removed', 'vdpa-tenant-42', 'blk-scratch0',
                'vhost_vdpa', 'virtio_vdpa' }
        @{ View = 'configuration differences, default (table)'; Set = 'Differences'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'Change', 'Attribute', 'Actual', 'Desired'
            Values = 'vdpa-tenant-42', 'vdpa-tenant-43', 'blk-scratch0', 'MacAddress', 'Driver', 'Recreate', 'Create', 'NotInFile',
                'maxQueuePairs', 'features', '02:00:00:00:00:99', '02:00:00:00:00:01', 'virtio_vdpa', 'none', 'CTRL_GUEST_OFFLOADS',
                'pci/0000:03:00.2', '128' }
        @{ View = 'device definitions, default (table)'; Set = 'Definitions'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'Parent', 'MacAddress', 'Mtu', 'Driver'
            Values = 'vdpa-tenant-42', 'blk-scratch0', 'pci/0000:03:00.2', 'vdpasim_blk', '02:00:00:00:00:01', '9000', 'vhost_vdpa', 'none' }
        @{ View = 'device definitions, list'; Set = 'Definitions'; Format = 'list'; Kind = 'list'
            Labels = 'Name', 'Parent', 'MacAddress', 'Mtu', 'MaxQueuePairs', 'Features', 'Driver'
            Values = @('vdpa-tenant-42', 'pci/0000:03:00.2', '02:00:00:00:00:01', '9000', '128', 'vhost_vdpa') + $allFeatures }
        @{ View = 'common features, default (list)'; Set = 'Common'; Format = 'default'; Kind = 'list'
            Labels = 'DeviceClass', 'Features', 'FeatureMask', 'Parents'
            Values = @('Net', $commonMask, 'pci/0000:03:00.2', 'compute-rack12-node07.example.net', 'vdpasim_net', 'nothing more') + $allFeatures }
        @{ View = 'parents beyond common features, default (table)'; Set = 'CommonParents'; Format = 'default'; Kind = 'table'
            Labels = 'ComputerName', 'Parent', 'ExtraFeatures'
            Values = 'compute-rack12-node07.example.net', 'pci/0000:03:00.2', 'vdpasim_net', '14', '0' }
        @{ View = 'parents beyond common features, list'; Set = 'CommonParents'; Format = 'list'; Kind = 'list'
            Labels = 'ComputerName', 'Parent', 'ExtraFeatures', 'ExtraFeatureMask', 'SupportedFeatureMask'
            Values = @('compute-rack12-node07.example.net', 'pci/0000:03:00.2', 'vdpasim_net', $fullMask, $commonMask, $extraMask) + $allFeatures[21..34] }
        @{ View = 'migration checks, default (table)'; Set = 'Migration'; Format = 'default'; Kind = 'table'
            Labels = 'Name', 'Parent', 'Twin', 'Reasons'
            Values = 'vdpa-tenant-42', 'pci/0000:03:00.2', 'pci/0000:03:00.3', 'Yes', 'No', 'FeatureMissing:CTRL_GUEST_OFFLOADS',
                'FeatureMissing:GUEST_ANNOUNCE', 'AttributeDiffers:MacAddress', 'KernelCannotProvisionFeatures', 'NameTaken', 'ParentOccupied' }
        @{ View = 'migration checks, list'; Set = 'Migration'; Format = 'list'; Kind = 'list'
            Labels = 'Name', 'ComputerName', 'Parent', 'DestinationComputerName', 'Type', 'CanCreateTwin', 'Reasons', 'DeviceFeatures',
                'DeviceFeatureMask', 'MacAddress', 'Mtu', 'MaxQueuePairs'
            Values = @('vdpa-tenant-42', 'compute-rack12-node07.example.net', 'pci/0000:03:00.3', 'compute-rack12-node08.example.net', 'Net',
                'False', 'FeatureMissing:CTRL_GUEST_OFFLOADS', 'AttributeDiffers:MacAddress', 'NameTaken', '02:00:00:00:00:01', '9000', '128',
                $fullMask) + $allFeatures }
    )
    $script:Data = @{ NetFeatureBits = $NetFeatureBits; BridgedPath = $bridgedPath }
    $script:RenderCases = foreach ($case in $Cases) { foreach ($width in $Widths) { $case + @{ Width = $width } } }
}

# The feature table and the long path go to the run phase as the outer block's data (discovery's variables do not reach it).
Describe 'VdpaPS views' -ForEach @($Data) {
    BeforeAll {
        Import-Module (Join-Path $env:VDPAPS_MODULE_PATH 'VdpaPS.psd1') -Force
        # The model types live in VdpaPS.Netlink.dll, which loads on first use; resolving an output type loads it.
        $null = (Get-Command Get-VdpaDevice).OutputType.Type

        $features = @($NetFeatureBits.Keys)
        $mask = [uint64]0
        foreach ($bit in $NetFeatureBits.Values) { $mask = $mask -bor ([uint64]1 -shl $bit) }
        $negotiatedMask = [uint64]0
        foreach ($name in $features[0..20]) { $negotiatedMask = $negotiatedMask -bor ([uint64]1 -shl $NetFeatureBits[$name]) }
        $counter = { param($name, $value) [VdpaPS.VdpaCounter]::new($name, $value) }
        $hardwareCounters = [VdpaPS.VdpaCounter[]]@((& $counter 'received_desc' ([uint64]::MaxValue)), (& $counter 'completed_desc' 12))
        $simRx = [VdpaPS.VdpaCounter[]]@((& $counter 'rx packets' 1234567), (& $counter 'rx bytes' 98765432109), (& $counter 'rx errors' 0),
            (& $counter 'rx overruns' 2), (& $counter 'rx drops' 3))
        $simTx = [VdpaPS.VdpaCounter[]]@((& $counter 'tx packets' 7654321), (& $counter 'tx bytes' 12345678901), (& $counter 'tx errors' 0))
        $simCvq = [VdpaPS.VdpaCounter[]]@((& $counter 'cvq requests' 5), (& $counter 'cvq successes' 5), (& $counter 'cvq errors' 0))

        $script:Samples = @{
            Parents = @(
                [VdpaPS.VdpaParent]@{ Name = 'pci/0000:03:00.2'; BusName = 'pci'; DeviceName = '0000:03:00.2'
                    SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net', 'Block'); SupportedClassMask = 6; MaxQueues = 257
                    SupportedFeatures = $features; SupportedFeatureMask = $mask; PciDriver = 'mlx5_core'; PhysicalFunction = '0000:03:00.0' }
                [VdpaPS.VdpaParent]@{ Name = 'vduse'; DeviceName = 'vduse'; SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net', 'Block')
                    SupportedClassMask = 6; MaxQueues = 0 }
                [VdpaPS.VdpaParent]@{ Name = 'vdpasim_net'; DeviceName = 'vdpasim_net'; SupportedClasses = [VdpaPS.VirtioDeviceClass[]]@('Net')
                    SupportedClassMask = 2; MaxQueues = 3; SupportedFeatures = @('MTU', 'MAC', 'VERSION_1'); SupportedFeatureMask = 0x100000028 }
            )
            Devices = @(
                [VdpaPS.VdpaDevice]@{ Name = 'vdpa-tenant-42'; Parent = 'pci/0000:03:00.2'; ParentBusName = 'pci'; ParentDeviceName = '0000:03:00.2'
                    Type = 'Net'; VirtioDeviceId = 1; VendorId = 0x15b3; MaxQueues = 257; MaxQueueSize = 1024; MinQueueSize = 64
                    Driver = 'vhost_vdpa'; VhostDevicePath = '/dev/vhost-vdpa-12'; ParentDevicePath = $BridgedPath; NumaNode = 1 }
                [VdpaPS.VdpaDevice]@{ Name = 'vdpa-tenant-43'; Parent = 'pci/0000:03:00.3'; ParentBusName = 'pci'; ParentDeviceName = '0000:03:00.3'
                    Type = 'Net'; VirtioDeviceId = 1; VendorId = 0x15b3; MaxQueues = 17; MaxQueueSize = 256; MinQueueSize = 1
                    Driver = 'virtio_vdpa'; NetworkInterface = 'enp3s0f3v15vdpa'
                    ParentDevicePath = '/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.3'; NumaNode = 0 }
                [VdpaPS.VdpaDevice]@{ Name = 'blk-scratch0'; Parent = 'vdpasim_blk'; ParentDeviceName = 'vdpasim_blk'; Type = 'Block'
                    VirtioDeviceId = 2; MaxQueues = 1; MaxQueueSize = 256; Driver = 'virtio_vdpa'; BlockDevice = '/dev/vdb' }
                [VdpaPS.VdpaDevice]@{ Name = 'vdpa7'; Type = 'Net'; VirtioDeviceId = 1; MaxQueues = 3; MaxQueueSize = 256; IsManaged = $false }
            )
            Configs = @(
                [VdpaPS.VdpaNetDeviceConfig]@{ Name = 'vdpa-tenant-42'; Type = 'Net'; VirtioDeviceId = 1; MacAddress = '02:00:00:00:00:01'; Status = 1
                    Mtu = 9000; MaxQueuePairs = 128; DeviceFeatures = $features; DeviceFeatureMask = $mask
                    NegotiatedFeatures = $features[0..20]; NegotiatedFeatureMask = $negotiatedMask }
                [VdpaPS.VdpaBlockDeviceConfig]@{ Name = 'blk-scratch0'; Type = 'Block'; VirtioDeviceId = 2; Capacity = 262144; SizeMax = 4096
                    SegmentMax = 32; BlockSize = 512; QueueCount = 1; PhysicalBlockExponent = 0; AlignmentOffset = 0; MinIoSize = 1
                    OptimalIoSize = 1; MaxDiscardSectors = 4294967295; MaxDiscardSegments = 4294967295; DiscardSectorAlignment = 512
                    MaxWriteZeroesSectors = 4294967295; MaxWriteZeroesSegments = 1; ReadOnly = $false; Flush = $true
                    DeviceFeatures = @('SIZE_MAX', 'SEG_MAX', 'BLK_SIZE', 'FLUSH', 'VERSION_1'); DeviceFeatureMask = 0x100000246 }
            )
            Statistics = @(
                foreach ($queue in 0..2) {
                    [VdpaPS.VdpaQueueStatistics]@{ Name = 'vdpa-tenant-42'; QueueIndex = $queue; QueueType = @('Rx', 'Tx', 'Control')[$queue]
                        Type = 'Net'; QueuePairs = 1; NegotiatedFeatures = $features[0..20]; NegotiatedFeatureMask = $negotiatedMask
                        Counters = $hardwareCounters }
                }
                foreach ($queue in 0..2) {
                    [VdpaPS.VdpaQueueStatistics]@{ Name = 'sim0'; QueueIndex = $queue; QueueType = @('Rx', 'Tx', 'Control')[$queue]; Type = 'Net'
                        QueuePairs = 1; NegotiatedFeatures = @('MAC', 'CTRL_VQ', 'VERSION_1'); NegotiatedFeatureMask = 0x100020020
                        Counters = @($simRx, $simTx, $simCvq)[$queue] }
                }
            )
            Counters = $simRx + $hardwareCounters
            Events = @(
                foreach ($e in @(
                        @('2026-12-01T14:05:09.123', 'Added', 'vdpa-tenant-42', $null), @('2026-12-01T14:05:09.500', 'Bound', 'vdpa-tenant-42', 'vhost_vdpa'),
                        @('2026-12-01T14:05:10.000', 'Unbound', 'vdpa-tenant-42', 'vhost_vdpa'), @('2026-12-01T23:59:59.999', 'Removed', 'vdpa-tenant-42', $null),
                        @('2026-12-02T00:00:00.000', 'Bound', 'blk-scratch0', 'virtio_vdpa'))) {
                    [VdpaPS.VdpaDeviceEvent]@{ Time = [datetime]::Parse($e[0], [cultureinfo]::InvariantCulture); Action = $e[1]; Name = $e[2]; Driver = $e[3]
                        DevicePath = "$BridgedPath/$($e[2])"; SequenceNumber = [uint64]::MaxValue }
                }
            )
            Differences = @(
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'vdpa-tenant-42'; Change = 'MacAddress'; Attribute = 'mac'; Actual = '02:00:00:00:00:99'; Desired = '02:00:00:00:00:01' }
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'vdpa-tenant-43'; Change = 'Driver'; Attribute = 'driver'; Actual = 'none'; Desired = 'virtio_vdpa' }
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'vdpa-tenant-42'; Change = 'Recreate'; Attribute = 'maxQueuePairs'; Actual = '1'; Desired = '128' }
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'vdpa-tenant-42'; Change = 'Recreate'; Attribute = 'features'
                    Actual = ($features[0..10] -join ', '); Desired = ($features -join ', ') }
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'blk-scratch0'; Change = 'Create'; Desired = 'on pci/0000:03:00.2, mac 02:00:00:00:00:01, mtu 9000, 128 queue pairs, vhost_vdpa' }
                [VdpaPS.VdpaConfigurationDifference]@{ Name = 'blk-scratch0'; Change = 'NotInFile'; Actual = 'on vdpasim_blk, none' }
            )
            PhysicalFunctions = @(
                [VdpaPS.VdpaPhysicalFunction]@{ PciAddress = '0000:3b:00.0'; Driver = 'mlx5_core'; NetworkInterface = 'enp59s0f0np0'; NumaNode = 1
                    TotalVfs = 127; VfCount = 3; AutoProbe = $true; VirtualFunctions = [VdpaPS.VdpaVirtualFunction[]]@(
                        [VdpaPS.VdpaVirtualFunction]@{ PciAddress = '0000:3b:00.2'; PhysicalFunction = '0000:3b:00.0'; Index = 0; Driver = 'mlx5_core'
                            ParentName = 'pci/0000:3b:00.2'; Devices = @('vdpa-tenant-42', 'vdpa-tenant-43') }
                        [VdpaPS.VdpaVirtualFunction]@{ PciAddress = '0000:3b:00.3'; PhysicalFunction = '0000:3b:00.0'; Index = 1; Driver = 'mlx5_core'
                            ParentName = 'pci/0000:3b:00.3' }
                        [VdpaPS.VdpaVirtualFunction]@{ PciAddress = '0000:3b:00.4'; PhysicalFunction = '0000:3b:00.0'; Index = 2 }) }
                [VdpaPS.VdpaPhysicalFunction]@{ PciAddress = '0000:01:00.0'; Driver = 'virtio-pci'; NetworkInterface = 'eth1'; TotalVfs = 3 }
            )
            VirtualFunctions = @()
            PfDefinitions = @(
                [VdpaPS.VdpaPhysicalFunctionDefinition]@{ PciAddress = '0000:3b:00.0'; VfCount = 127; VfDriver = 'mlx5_core' }
                [VdpaPS.VdpaPhysicalFunctionDefinition]@{ PciAddress = '0000:01:00.0'; VfCount = 3; VfDriver = 'vp-vdpa' }
            )
            Definitions = @(
                [VdpaPS.VdpaDeviceDefinition]@{ Name = 'vdpa-tenant-42'; Parent = 'pci/0000:03:00.2'; MacAddress = '02:00:00:00:00:01'; Mtu = 9000
                    MaxQueuePairs = 128; Features = $features; Driver = 'vhost_vdpa' }
                [VdpaPS.VdpaDeviceDefinition]@{ Name = 'blk-scratch0'; Parent = 'vdpasim_blk'; Features = @('VERSION_1', 'FLUSH'); Driver = 'none' }
            )
            Common = @(
                [VdpaPS.VdpaCommonFeatures]@{ DeviceClass = 'Net'; Features = $features[0..20]; FeatureMask = $negotiatedMask
                    Parents = [VdpaPS.VdpaParentExtraFeatures[]]@(
                        [VdpaPS.VdpaParentExtraFeatures]@{ ComputerName = 'compute-rack12-node07.example.net'; Parent = 'pci/0000:03:00.2'
                            SupportedFeatureMask = $mask; ExtraFeatures = $features[21..34]; ExtraFeatureMask = $mask -bxor $negotiatedMask }
                        [VdpaPS.VdpaParentExtraFeatures]@{ Parent = 'vdpasim_net'; SupportedFeatureMask = $negotiatedMask; ExtraFeatures = @()
                            ExtraFeatureMask = 0 }) }
            )
            Migration = @(
                [VdpaPS.VdpaMigrationCheck]@{ Name = 'vdpa-tenant-42'; ComputerName = 'compute-rack12-node07.example.net'; Parent = 'pci/0000:03:00.3'
                    DestinationComputerName = 'compute-rack12-node08.example.net'; Type = 'Net'; DeviceFeatures = $features; DeviceFeatureMask = $mask
                    MacAddress = '02:00:00:00:00:01'; Mtu = 9000; MaxQueuePairs = 128
                    Reasons = [VdpaPS.VdpaMigrationReason[]]@(
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'FeatureMissing'; Item = 'CTRL_GUEST_OFFLOADS'
                            Message = "'vdpa-tenant-42' on compute-rack12-node07.example.net offers CTRL_GUEST_OFFLOADS (bit 2), which parent 'pci/0000:03:00.3' on compute-rack12-node08.example.net cannot offer." }
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'FeatureMissing'; Item = 'GUEST_ANNOUNCE'; Message = 'bit 21 is missing.' }
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'AttributeDiffers'; Item = 'MacAddress'; Message = 'its device would have 52:54:00:00:11:00.' }
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'KernelCannotProvisionFeatures'; Message = 'DEV_FEATURES came in Linux 6.1.' }
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'NameTaken'; Message = 'taken.' }
                        [VdpaPS.VdpaMigrationReason]@{ Kind = 'ParentOccupied'; Message = 'occupied.' }) }
                [VdpaPS.VdpaMigrationCheck]@{ Name = 'vdpa-tenant-42'; Parent = 'pci/0000:03:00.2'; Type = 'Net'; DeviceFeatures = $features[0..3]
                    DeviceFeatureMask = 15; MaxQueuePairs = 1 }
            )
            CommonParents = @(
                [VdpaPS.VdpaParentExtraFeatures]@{ ComputerName = 'compute-rack12-node07.example.net'; Parent = 'pci/0000:03:00.2'
                    SupportedFeatureMask = $mask; ExtraFeatures = $features[21..34]; ExtraFeatureMask = $mask -bxor $negotiatedMask }
                [VdpaPS.VdpaParentExtraFeatures]@{ ComputerName = 'compute-rack12-node07.example.net'; Parent = 'vdpasim_net'
                    SupportedFeatureMask = $negotiatedMask; ExtraFeatures = @(); ExtraFeatureMask = 0 }
            )
        }
        $Samples.VirtualFunctions = @($Samples.PhysicalFunctions[0].VirtualFunctions)

        function Show-View {
            # The text a reader sees in a terminal of -Width columns, trailing blanks trimmed.
            param([object[]] $InputObject, [string] $Format, [string] $Name, [int] $Width)
            $view = @{}
            if ($Name) { $view.View = $Name }
            $text = switch ($Format) {
                'default' { $InputObject | Out-String -Width $Width }
                'table' { $InputObject | Format-Table @view | Out-String -Width $Width }
                'list' { $InputObject | Format-List @view | Out-String -Width $Width }
            }
            return ($text -split '\r?\n' | ForEach-Object TrimEnd) -join "`n"
        }

        function Test-Whole {
            # True when $Value shows whole: bounded by line edges, blanks, or a column's ':' (list labels).
            param([string] $Text, [string] $Value)
            return $Text -match "(?m)(?<=^|\s)$([regex]::Escape($Value))(?=\s|:|$)"
        }
    }

    Describe 'The <View> view at <Width> columns' -ForEach $RenderCases {
        BeforeAll {
            $script:Text = Show-View $Samples[$Set] $Format $(if ($_.ContainsKey('Name')) { $_.Name }) $Width
        }

        It 'fits: no line is wider than the terminal' {
            foreach ($line in $Text -split "`n") { $line.Length | Should -BeLessOrEqual $Width -Because "'$line' must fit" }
        }

        It 'cuts nothing: no ellipsis' {
            $Text | Should -Not -Match '…|\.\.\.'
        }

        It 'shows exactly its columns or labels, none cut, dropped or added' {
            $lines = @($Text -split "`n")
            if ($Kind -eq 'table') {
                # A header is the line above the dashes; a column too narrow for its label shows a cut label there.
                $headers = @(for ($i = 1; $i -lt $lines.Count; $i++) { if ($lines[$i] -match '^[ -]*-[ -]*$') { $lines[$i - 1] } })
                $headers.Count | Should -BeGreaterThan 0 -Because "a table has a header:`n$Text"
                foreach ($header in $headers) { @($header.Trim() -split '\s+') | Should -Be $Labels -Because "the header of:`n$Text" }
            } else {
                $shown = [System.Collections.Generic.List[string]]::new()
                foreach ($line in $lines) { if ($line -match '^(\S+)\s*: ?' -and -not $shown.Contains($Matches[1])) { $shown.Add($Matches[1]) } }
                @($shown) | Should -Be $Labels -Because "the labels of:`n$Text"
            }
        }

        It 'shows every value whole, no word broken across lines' {
            foreach ($value in $Values) { Test-Whole $Text $value | Should -BeTrue -Because "'$value' must show whole in:`n$Text" }
        }
    }

    Describe 'What the views show' {
        It 'spells Type as the enum does, in tables and lists alike' {
            foreach ($set in 'Devices', 'Configs') {
                foreach ($object in $Samples[$set]) {
                    $type = "$($object.Type)"
                    Show-View $object 'list' -Width 80 | Should -Match "(?m)^Type\s+: $type$"
                    Show-View $object 'table' -Width 80 | Should -Match "(?m)^$([regex]::Escape($object.Name))\s+$type(\s|$)"
                }
            }
            Show-View $Samples.Statistics[2] 'list' -Width 80 | Should -Match '(?m)^QueueType\s+: Control$'
            Show-View $Samples.Statistics[2] 'table' -Width 80 | Should -Match '(?m)^\s+2 Control\s'
        }

        It 'shows a device as Name, Type, Parent, Driver, what it became and MaxQueues' {
            $table = Show-View $Samples.Devices 'default' -Width 80
            $table | Should -Match '(?m)^Name\s+Type\s+Parent\s+Driver\s+HostDevice\s+MaxQueues$'
            $table | Should -Match '(?m)^vdpa-tenant-42\s+Net\s+pci/0000:03:00\.2\s+vhost_vdpa\s+/dev/vhost-vdpa-12\s+257$'
            $table | Should -Match '(?m)^vdpa-tenant-43\s+Net\s+pci/0000:03:00\.3\s+virtio_vdpa\s+enp3s0f3v15vdpa\s+17$'
            $table | Should -Match '(?m)^blk-scratch0\s+Block\s+vdpasim_blk\s+virtio_vdpa\s+/dev/vdb\s+1$'
            $table | Should -Match '(?m)^vdpa7\s+Net\s+3$'
        }

        It 'shows a parent''s feature count in the table and every name in the list' {
            $table = Show-View $Samples.Parents 'default' -Width 80
            $table | Should -Match '(?m)^pci/0000:03:00\.2\s+Net, Block\s+257\s+35$'
            $table | Should -Match '(?m)^vduse\s+Net, Block\s+0$' -Because 'a parent whose kernel does not say has no count, not 0'
            $table | Should -Match '(?m)^vdpasim_net\s+Net\s+3\s+3$'
            $table | Should -Not -Match 'VERSION_1'
            $list = Show-View $Samples.Parents[0] 'list' -Width 80
            foreach ($name in $NetFeatureBits.Keys) { Test-Whole $list $name | Should -BeTrue -Because "$name is a supported feature" }
        }

        It 'shows the common features, then each parent with what it has beyond them, indented under it' {
            $list = Show-View $Samples.Common 'default' -Width 80
            $list | Should -Match '(?m)^DeviceClass\s+: Net$'
            $list | Should -Match '(?m)^Features\s+: CSUM GUEST_CSUM CTRL_GUEST_OFFLOADS MTU MAC'
            $list | Should -Match '(?m)^Parents\s+: pci/0000:03:00\.2 on compute-rack12-node07\.example\.net also has:\n\s+CTRL_MAC_ADDR NOTIFY_ON_EMPTY ANY_LAYOUT'
            $list | Should -Match '(?m)^\s+SPEED_DUPLEX\n\s+vdpasim_net also has:\n\s+nothing more$'
        }

        It 'wraps a long sysfs path before a ''/'', so each line is whole path components' {
            $list = Show-View $Samples.Devices[0] 'list' -Width 80
            $lines = @($list -split "`n")
            $first = @(for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -like 'ParentDevicePath*') { $i } })[0]
            $value = @($lines[$first] -replace '^ParentDevicePath\s+: ')
            for ($i = $first + 1; $i -lt $lines.Count -and $lines[$i] -match '^\s+(/.*)$'; $i++) { $value += $Matches[1] }
            $value.Count | Should -BeGreaterThan 1 -Because 'the path is longer than a line of the list'
            foreach ($part in $value) { $part | Should -Match '^/' }
            $value -join '' | Should -Be $BridgedPath
        }

        It 'shows a device event as its time to the millisecond, the action, the device and the driver' {
            $table = Show-View $Samples.Events 'default' -Width 80
            $table | Should -Match '(?m)^2026-12-01 14:05:09\.123\s+Added\s+vdpa-tenant-42$'
            $table | Should -Match '(?m)^2026-12-01 14:05:10\.000\s+Unbound\s+vdpa-tenant-42\s+vhost_vdpa$'
            $table | Should -Match '(?m)^2026-12-02 00:00:00\.000\s+Bound\s+blk-scratch0\s+virtio_vdpa$'
        }

        It 'shows statistics as one table per device, a row per queue with its counters' {
            $text = Show-View $Samples.Statistics 'default' -Width 80
            ([regex]::Matches($text, '(?m)^\s*Device: (\S+)$') | ForEach-Object { $_.Groups[1].Value }) | Should -Be 'vdpa-tenant-42', 'sim0'
            [regex]::Matches($text, '(?m)^Queue\s+Type\s+Counters$').Count | Should -Be 2
            $text | Should -Match '(?m)^\s+0 Rx\s+rx packets\s+1234567$'
            $text | Should -Match '(?m)^\s+rx bytes\s+98765432109$'
            $text | Should -Match '(?m)^\s+2 Control\s+cvq requests\s+5$'
            $text | Should -Match '(?m)^\s+0 Rx\s+received_desc\s+18446744073709551615$'
            $text | Should -Not -Match 'QueueIndex|NegotiatedFeatures'
        }
    }

    Describe 'The Deserialized twin of the <View> view' -ForEach ($RenderCases | Where-Object Width -EQ 80) {
        It 'renders at 80 columns as the live objects do' {
            # PSSerializer at its default depth, as remoting sends output (a type may ask for more, as statistics do).
            $copies = foreach ($object in $Samples[$Set]) {
                [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($object))
            }
            $name = if ($_.ContainsKey('Name')) { $_.Name }
            $copies[0].PSObject.TypeNames[0] | Should -BeLike 'Deserialized.VdpaPS.*'
            Show-View $copies $Format $name 80 | Should -BeExactly (Show-View $Samples[$Set] $Format $name 80)
        }
    }
}

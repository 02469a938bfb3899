using VdpaPS.Netlink.Protocol;
using static VdpaPS.Netlink.Vdpa.VdpaAttribute;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>Turns the attributes of vdpa replies into objects. Unknown attributes, type-0 pads included, are skipped.</summary>
internal static class VdpaDecoder
{
    public static VdpaParent DecodeParent(ReadOnlySpan<byte> attributes)
    {
        string? bus = null, device = null;
        ulong classes = 0;
        uint? maxQueues = null;
        ulong? features = null;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            switch (a.Type)
            {
                case ManagementDeviceBusName: bus = a.GetString(); break;
                case ManagementDeviceDeviceName: device = a.GetString(); break;
                case ManagementDeviceSupportedClasses: classes = a.GetU64(); break;
                case ManagementDeviceMaxQueues: maxQueues = a.GetU32(); break;
                case SupportedFeatures: features = a.GetU64(); break;
            }
        }

        if (device is null)
        {
            throw new NetlinkProtocolException("A management device reply has no device name.", "vdpa MGMTDEV_GET");
        }

        var supported = ClassesOf(classes);
        return new VdpaParent
        {
            Name = VdpaText.JoinParentName(bus, device),
            BusName = bus,
            DeviceName = device,
            SupportedClasses = supported,
            SupportedClassMask = classes,
            MaxQueues = maxQueues,
            SupportedFeatureMask = features,
            // A parent of one class names its device bits; a multi-class one (vduse) only the transport bits.
            SupportedFeatures = features is { } f ? VirtioFeatures.GetNames(f, supported.Length == 1 ? supported[0] : VirtioDeviceClass.Unknown) : [],
        };
    }

    public static VdpaDevice DecodeDevice(ReadOnlySpan<byte> attributes)
    {
        string? name = null, bus = null, parent = null;
        uint deviceId = 0, vendorId = 0, maxQueues = 0;
        ushort maxQueueSize = 0;
        ushort? minQueueSize = null;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            switch (a.Type)
            {
                case DeviceName: name = a.GetString(); break;
                case ManagementDeviceBusName: bus = a.GetString(); break;
                case ManagementDeviceDeviceName: parent = a.GetString(); break;
                case DeviceId: deviceId = a.GetU32(); break;
                case DeviceVendorId: vendorId = a.GetU32(); break;
                case DeviceMaxQueues: maxQueues = a.GetU32(); break;
                case DeviceMaxQueueSize: maxQueueSize = a.GetU16(); break;
                case DeviceMinQueueSize: minQueueSize = a.GetU16(); break;
            }
        }

        if (name is null)
        {
            throw new NetlinkProtocolException("A device reply has no device name.", "vdpa DEV_GET");
        }

        return new VdpaDevice
        {
            Name = name,
            Parent = parent is null ? string.Empty : VdpaText.JoinParentName(bus, parent),
            ParentBusName = bus,
            ParentDeviceName = parent ?? string.Empty,
            DeviceId = deviceId,
            Type = ClassOf(deviceId),
            VendorId = vendorId,
            MaxQueues = maxQueues,
            MaxQueueSize = maxQueueSize,
            MinQueueSize = minQueueSize,
        };
    }

    /// <summary>A DEV_CONFIG_GET reply as a 6.9 or later family means it.</summary>
    public static VdpaDeviceConfig DecodeConfig(ReadOnlySpan<byte> attributes) => DecodeConfig(attributes, VdpaFamilyCapabilities.Current);

    /// <summary>A DEV_CONFIG_GET reply as <paramref name="family"/> means it: attribute 21 is device features on 6.1, block capacity from 6.9.</summary>
    public static VdpaDeviceConfig DecodeConfig(ReadOnlySpan<byte> attributes, VdpaFamilyCapabilities family)
    {
        var attribute21IsFeatures = family.Attribute21 == VdpaAttribute21Meaning.DeviceFeatures;
        string? name = null, mac = null;
        uint deviceId = 0;
        ulong? negotiated = null, deviceFeatures = null, capacity = null;
        ushort? status = null, maxQueuePairs = null, mtu = null, queueCount = null, minIo = null;
        uint? sizeMax = null, segMax = null, blockSize = null, optIo = null, maxDiscard = null, maxDiscardSeg = null,
            discardAlign = null, maxWriteZeroes = null, maxWriteZeroesSeg = null;
        byte? physExp = null, alignOffset = null;
        bool? readOnly = null, flush = null;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            switch (a.Type)
            {
                case DeviceName: name = a.GetString(); break;
                case DeviceId: deviceId = a.GetU32(); break;
                case NegotiatedFeatures: negotiated = a.GetU64(); break;
                case VdpaAttribute.DeviceFeatures: deviceFeatures = a.GetU64(); break;
                case NetConfigMacAddress:
                    mac = a.Payload.Length == 6 ? VdpaText.FormatMacAddress(a.Payload) : throw new NetlinkProtocolException($"A MAC attribute has {a.Payload.Length} bytes.", "vdpa DEV_CONFIG_GET");
                    break;
                // The header says u8, the kernel sends u16: take whatever width came, but never cut a value short.
                case NetStatus:
                    status = a.GetUnsigned() is var s and <= ushort.MaxValue
                        ? (ushort)s
                        : throw new NetlinkProtocolException($"Attribute {a.Type} (NET_STATUS) carries {a.GetUnsigned()}, more than the 16-bit status holds.", "vdpa DEV_CONFIG_GET");
                    break;
                case NetConfigMaxQueuePairs: maxQueuePairs = a.GetU16(); break;
                case NetConfigMtu: mtu = a.GetU16(); break;
                case BlockCapacity when attribute21IsFeatures: deviceFeatures = a.GetU64(); break;
                case BlockCapacity: capacity = a.GetU64(); break;
                case BlockSizeMax: sizeMax = a.GetU32(); break;
                case BlockBlockSize: blockSize = a.GetU32(); break;
                case BlockSegmentMax: segMax = a.GetU32(); break;
                case BlockQueueCount: queueCount = a.GetU16(); break;
                case BlockPhysicalBlockExponent: physExp = a.GetU8(); break;
                case BlockAlignmentOffset: alignOffset = a.GetU8(); break;
                case BlockMinIoSize: minIo = a.GetU16(); break;
                case BlockOptimalIoSize: optIo = a.GetU32(); break;
                case BlockMaxDiscardSectors: maxDiscard = a.GetU32(); break;
                case BlockMaxDiscardSegments: maxDiscardSeg = a.GetU32(); break;
                case BlockDiscardSectorAlignment: discardAlign = a.GetU32(); break;
                case BlockMaxWriteZeroesSectors: maxWriteZeroes = a.GetU32(); break;
                case BlockMaxWriteZeroesSegments: maxWriteZeroesSeg = a.GetU32(); break;
                case BlockReadOnly: readOnly = a.GetU8() != 0; break;
                case BlockFlush: flush = a.GetU8() != 0; break;
            }
        }

        if (name is null)
        {
            throw new NetlinkProtocolException("A config reply has no device name.", "vdpa DEV_CONFIG_GET");
        }

        var type = ClassOf(deviceId);
        var deviceNames = deviceFeatures is { } df ? VirtioFeatures.GetNames(df, type) : [];
        var negotiatedNames = negotiated is { } nf ? VirtioFeatures.GetNames(nf, type) : [];
        if (type == VirtioDeviceClass.Block)
        {
            return new VdpaBlockDeviceConfig
            {
                Name = name, Type = type, DeviceId = deviceId,
                DeviceFeatureMask = deviceFeatures, DeviceFeatures = deviceNames,
                NegotiatedFeatureMask = negotiated, NegotiatedFeatures = negotiatedNames,
                Capacity = capacity, SizeMax = sizeMax, SegmentMax = segMax, BlockSize = blockSize, QueueCount = queueCount,
                PhysicalBlockExponent = physExp, AlignmentOffset = alignOffset, MinIoSize = minIo, OptimalIoSize = optIo,
                MaxDiscardSectors = maxDiscard, MaxDiscardSegments = maxDiscardSeg, DiscardSectorAlignment = discardAlign,
                MaxWriteZeroesSectors = maxWriteZeroes, MaxWriteZeroesSegments = maxWriteZeroesSeg,
                ReadOnly = readOnly, Flush = flush,
            };
        }

        return new VdpaNetDeviceConfig
        {
            Name = name, Type = type, DeviceId = deviceId,
            DeviceFeatureMask = deviceFeatures, DeviceFeatures = deviceNames,
            NegotiatedFeatureMask = negotiated, NegotiatedFeatures = negotiatedNames,
            MacAddress = mac, Status = status, Mtu = mtu, MaxQueuePairs = maxQueuePairs,
        };
    }

    public static VdpaQueueStatistics DecodeQueueStatistics(ReadOnlySpan<byte> attributes)
    {
        string? name = null, pendingCounter = null;
        uint deviceId = 0, queueIndex = 0;
        ulong? negotiated = null;
        ushort? maxQueuePairs = null;
        // Counted first, so the counters array is allocated once at its final size rather than grown in a list and copied.
        var valueCount = 0;
        var counting = new NetlinkAttributeReader(attributes);
        while (counting.TryRead(out var c))
        {
            if (c.Type == VendorAttributeValue)
            {
                valueCount++;
            }
        }

        var counters = valueCount == 0 ? [] : new VdpaCounter[valueCount];
        var counterCount = 0;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            switch (a.Type)
            {
                case DeviceName: name = a.GetString(); break;
                case DeviceId: deviceId = a.GetU32(); break;
                case NegotiatedFeatures: negotiated = a.GetU64(); break;
                case NetConfigMaxQueuePairs: maxQueuePairs = a.GetU16(); break;
                case QueueIndex: queueIndex = a.GetU32(); break;
                // Counters come as repeated name/value pairs: order is the only thing that ties a value to its name.
                case VendorAttributeName: pendingCounter = a.GetString(); break;
                case VendorAttributeValue:
                    counters[counterCount] = new VdpaCounter(pendingCounter ?? $"counter{counterCount}", a.GetU64());
                    counterCount++;
                    pendingCounter = null;
                    break;
            }
        }

        if (name is null)
        {
            throw new NetlinkProtocolException("A statistics reply has no device name.", "vdpa DEV_VSTATS_GET");
        }

        var type = ClassOf(deviceId);
        // Without MQ the kernel omits MAX_VQP: one queue pair, so the control queue is index 2 (not 2 * 0 as iproute2 assumes).
        var pairs = maxQueuePairs is > 0 ? maxQueuePairs.Value : (ushort)1;
        return new VdpaQueueStatistics
        {
            Name = name,
            Type = type,
            QueueIndex = queueIndex,
            QueuePairs = pairs,
            QueueType = QueueTypeOf(type, queueIndex, pairs),
            NegotiatedFeatureMask = negotiated,
            NegotiatedFeatures = negotiated is { } nf ? VirtioFeatures.GetNames(nf, type) : [],
            Counters = counters,
        };
    }

    public static VdpaQueueType QueueTypeOf(VirtioDeviceClass type, uint queueIndex, ushort queuePairs)
    {
        if (type != VirtioDeviceClass.Net)
        {
            return VdpaQueueType.Unknown;
        }

        if (queueIndex < 2u * queuePairs)
        {
            return queueIndex % 2 == 0 ? VdpaQueueType.Rx : VdpaQueueType.Tx;
        }

        return queueIndex == 2u * queuePairs ? VdpaQueueType.Control : VdpaQueueType.Unknown;
    }

    public static VirtioDeviceClass ClassOf(uint deviceId) => deviceId switch
    {
        1 => VirtioDeviceClass.Net,
        2 => VirtioDeviceClass.Block,
        _ => VirtioDeviceClass.Unknown,
    };

    private static VirtioDeviceClass[] ClassesOf(ulong mask)
    {
        // Sized from the bit count, so nothing is allocated beyond the array the parent keeps.
        var classes = new VirtioDeviceClass[System.Numerics.BitOperations.PopCount(mask)];
        var n = 0;
        for (var bit = 0; bit < 64; bit++)
        {
            if ((mask & (1UL << bit)) != 0)
            {
                classes[n++] = ClassOf((uint)bit) is var c && c != VirtioDeviceClass.Unknown ? c : (VirtioDeviceClass)bit;
            }
        }

        return classes;
    }
}

using VdpaPS.Netlink.Protocol;
using static VdpaPS.Netlink.Vdpa.VdpaAttribute;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>Turns the attributes of vdpa replies into objects. Unknown attributes, type-0 pads included, are skipped.</summary>
internal static class VdpaDecoder
{
    // What each decoder reads: the reply checks these attributes' shapes, in the kernel's order, and skips the rest.
    private static readonly ulong ParentReads = VdpaReply.Reads(ManagementDeviceBusName, ManagementDeviceDeviceName,
        ManagementDeviceSupportedClasses, ManagementDeviceMaxQueues, SupportedFeatures);

    private static readonly ulong DeviceReads = VdpaReply.Reads(DeviceName, ManagementDeviceBusName, ManagementDeviceDeviceName,
        VirtioDeviceId, DeviceVendorId, DeviceMaxQueues, DeviceMaxQueueSize, DeviceMinQueueSize);

    private static readonly ulong ConfigReads = VdpaReply.Reads(DeviceName, VirtioDeviceId, NegotiatedFeatures, VdpaAttribute.DeviceFeatures,
        NetConfigMacAddress, NetStatus, NetConfigMaxQueuePairs, NetConfigMtu, BlockCapacity, BlockSizeMax, BlockBlockSize, BlockSegmentMax,
        BlockQueueCount, BlockPhysicalBlockExponent, BlockAlignmentOffset, BlockMinIoSize, BlockOptimalIoSize, BlockMaxDiscardSectors,
        BlockMaxDiscardSegments, BlockDiscardSectorAlignment, BlockMaxWriteZeroesSectors, BlockMaxWriteZeroesSegments, BlockReadOnly, BlockFlush);

    private static readonly ulong StatisticsReads = VdpaReply.Reads(DeviceName, VirtioDeviceId, NegotiatedFeatures, NetConfigMaxQueuePairs,
        QueueIndex, VendorAttributeName, VendorAttributeValue);

    /// <summary>
    /// A net device's queue pairs from its MAX_VQP: the kernel shows the attribute only with MQ (or RSS), and a net device
    /// without it has exactly one pair. The one place that default is written.
    /// </summary>
    public static ushort NetQueuePairs(ushort? maxVqp) => maxVqp is { } p && p > 0 ? p : (ushort)1;

    public static VdpaParent DecodeParent(ReadOnlySpan<byte> attributes)
    {
        var a = new VdpaReply(attributes, ParentReads, "vdpa MGMTDEV_GET");
        var device = a.String(ManagementDeviceDeviceName)
            ?? throw new NetlinkProtocolException("A management device reply has no device name.", "vdpa MGMTDEV_GET");
        var bus = a.String(ManagementDeviceBusName);
        var classes = a.U64(ManagementDeviceSupportedClasses) ?? 0;
        var features = a.U64(SupportedFeatures);
        var supported = ClassesOf(classes);
        return new VdpaParent
        {
            Name = VdpaText.JoinParentName(bus, device),
            BusName = bus,
            DeviceName = device,
            SupportedClasses = supported,
            SupportedClassMask = classes,
            MaxQueues = a.U32(ManagementDeviceMaxQueues),
            SupportedFeatureMask = features,
            // A parent of one class names its device bits; a multi-class one (vduse) only the transport bits.
            SupportedFeatures = features is { } f ? VirtioFeatures.GetNames(f, supported.Length == 1 ? supported[0] : VirtioDeviceClass.Unknown) : [],
        };
    }

    public static VdpaDevice DecodeDevice(ReadOnlySpan<byte> attributes)
    {
        var a = new VdpaReply(attributes, DeviceReads, "vdpa DEV_GET");
        var name = a.String(DeviceName) ?? throw new NetlinkProtocolException("A device reply has no device name.", "vdpa DEV_GET");
        var bus = a.String(ManagementDeviceBusName);
        var parent = a.String(ManagementDeviceDeviceName);
        var virtioDeviceId = a.U32(VirtioDeviceId) ?? 0;
        return new VdpaDevice
        {
            Name = name,
            Parent = parent is null ? string.Empty : VdpaText.JoinParentName(bus, parent),
            ParentBusName = bus,
            ParentDeviceName = parent ?? string.Empty,
            VirtioDeviceId = virtioDeviceId,
            Type = ClassOf(virtioDeviceId),
            VendorId = a.U32(DeviceVendorId) ?? 0,
            MaxQueues = a.U32(DeviceMaxQueues) ?? 0,
            MaxQueueSize = a.U16(DeviceMaxQueueSize) ?? 0,
            MinQueueSize = a.U16(DeviceMinQueueSize),
        };
    }

    /// <summary>A DEV_CONFIG_GET reply as a 6.9 or later family means it.</summary>
    public static VdpaDeviceConfig DecodeConfig(ReadOnlySpan<byte> attributes) => DecodeConfig(attributes, VdpaFamilyCapabilities.Current);

    /// <summary>A DEV_CONFIG_GET reply as <paramref name="family"/> means it: attribute 21 is device features on 6.1, block capacity from 6.9.</summary>
    public static VdpaDeviceConfig DecodeConfig(ReadOnlySpan<byte> attributes, VdpaFamilyCapabilities family)
    {
        var a = new VdpaReply(attributes, ConfigReads, "vdpa DEV_CONFIG_GET");
        var name = a.String(DeviceName) ?? throw new NetlinkProtocolException("A config reply has no device name.", "vdpa DEV_CONFIG_GET");
        var attribute21IsFeatures = family.Attribute21 == VdpaAttribute21Meaning.DeviceFeatures;
        var virtioDeviceId = a.U32(VirtioDeviceId) ?? 0;
        var negotiated = a.U64(NegotiatedFeatures);
        // On 6.1, DEV_FEATURES and attribute 21 both say what the device offers: the last one counts.
        var deviceFeatures = a.U64(attribute21IsFeatures ? a.LastOf(Legacy61DeviceFeatures, VdpaAttribute.DeviceFeatures) : VdpaAttribute.DeviceFeatures);
        var type = ClassOf(virtioDeviceId);
        var deviceNames = deviceFeatures is { } df ? VirtioFeatures.GetNames(df, type) : [];
        var negotiatedNames = negotiated is { } nf ? VirtioFeatures.GetNames(nf, type) : [];
        if (type == VirtioDeviceClass.Block)
        {
            return new VdpaBlockDeviceConfig
            {
                Name = name, Type = type, VirtioDeviceId = virtioDeviceId,
                DeviceFeatureMask = deviceFeatures, DeviceFeatures = deviceNames,
                NegotiatedFeatureMask = negotiated, NegotiatedFeatures = negotiatedNames,
                Capacity = attribute21IsFeatures ? null : a.U64(BlockCapacity),
                SizeMax = a.U32(BlockSizeMax), SegmentMax = a.U32(BlockSegmentMax), BlockSize = a.U32(BlockBlockSize),
                QueueCount = a.U16(BlockQueueCount), PhysicalBlockExponent = a.U8(BlockPhysicalBlockExponent),
                AlignmentOffset = a.U8(BlockAlignmentOffset), MinIoSize = a.U16(BlockMinIoSize), OptimalIoSize = a.U32(BlockOptimalIoSize),
                MaxDiscardSectors = a.U32(BlockMaxDiscardSectors), MaxDiscardSegments = a.U32(BlockMaxDiscardSegments),
                DiscardSectorAlignment = a.U32(BlockDiscardSectorAlignment),
                MaxWriteZeroesSectors = a.U32(BlockMaxWriteZeroesSectors), MaxWriteZeroesSegments = a.U32(BlockMaxWriteZeroesSegments),
                ReadOnly = a.Flag(BlockReadOnly), Flush = a.Flag(BlockFlush),
            };
        }

        return new VdpaNetDeviceConfig
        {
            Name = name, Type = type, VirtioDeviceId = virtioDeviceId,
            DeviceFeatureMask = deviceFeatures, DeviceFeatures = deviceNames,
            NegotiatedFeatureMask = negotiated, NegotiatedFeatures = negotiatedNames,
            MacAddress = a.Has(NetConfigMacAddress) ? VdpaText.FormatMacAddress(a[NetConfigMacAddress]) : null,
            Status = (ushort?)a.Unsigned(NetStatus),
            Mtu = a.U16(NetConfigMtu),
            MaxQueuePairs = NetQueuePairs(a.U16(NetConfigMaxQueuePairs)),
            ShowsMaxQueuePairs = a.Has(NetConfigMaxQueuePairs),
        };
    }

    public static VdpaQueueStatistics DecodeQueueStatistics(ReadOnlySpan<byte> attributes)
    {
        // The counters are counted first (a malformed run fails there, before any attribute's width is checked).
        var counters = new VdpaCounter[CountValues(attributes)];
        var a = new VdpaReply(attributes, StatisticsReads, "vdpa DEV_VSTATS_GET");
        var name = a.String(DeviceName) ?? throw new NetlinkProtocolException("A statistics reply has no device name.", "vdpa DEV_VSTATS_GET");
        var type = ClassOf(a.U32(VirtioDeviceId) ?? 0);
        var negotiated = a.U64(NegotiatedFeatures);
        var queueIndex = a.U32(QueueIndex) ?? 0;
        // One queue pair without MQ, so the control queue is index 2 (not 2 * 0 as iproute2 assumes).
        var pairs = NetQueuePairs(a.U16(NetConfigMaxQueuePairs));
        return new VdpaQueueStatistics
        {
            Name = name,
            Type = type,
            QueueIndex = queueIndex,
            QueuePairs = pairs,
            QueueType = QueueTypeOf(type, queueIndex, pairs),
            NegotiatedFeatureMask = negotiated,
            NegotiatedFeatures = negotiated is { } nf ? VirtioFeatures.GetNames(nf, type) : [],
            Counters = ReadCounters(attributes, counters),
        };
    }

    private static int CountValues(ReadOnlySpan<byte> attributes)
    {
        // Counted first, so the array is allocated once at its final size rather than grown in a list and copied.
        var count = 0;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            count += a.Type == VendorAttributeValue ? 1 : 0;
        }

        return count;
    }

    /// <summary>The vendor counters: repeated name/value pairs, where order is the only thing that ties a value to its name.</summary>
    private static VdpaCounter[] ReadCounters(ReadOnlySpan<byte> attributes, VdpaCounter[] counters)
    {
        var n = 0;
        string? pendingName = null;
        var reader = new NetlinkAttributeReader(attributes);
        while (n < counters.Length && reader.TryRead(out var a))
        {
            if (a.Type == VendorAttributeName)
            {
                pendingName = a.GetString();
            }
            else if (a.Type == VendorAttributeValue)
            {
                counters[n] = new VdpaCounter(pendingName ?? $"counter{n}", a.GetU64());
                n++;
                pendingName = null;
            }
        }

        return counters;
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

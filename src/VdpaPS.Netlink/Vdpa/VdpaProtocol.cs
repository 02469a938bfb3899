namespace VdpaPS.Netlink.Vdpa;

/// <summary>Commands of the "vdpa" generic netlink family (include/uapi/linux/vdpa.h).</summary>
internal enum VdpaCommand : byte
{
    Unspecified = 0,
    ManagementDeviceNew = 1,
    ManagementDeviceGet = 2,
    DeviceNew = 3,
    DeviceDelete = 4,
    DeviceGet = 5,
    DeviceConfigGet = 6,
    DeviceVendorStatsGet = 7,
    DeviceAttributeSet = 8,
}

/// <summary>Attributes of the "vdpa" family; numbers are stable uAPI since 6.12. What each means and when it came: <see cref="VdpaKernelCatalog"/>.</summary>
internal static class VdpaAttribute
{
    public const ushort Pad = 0;
    public const ushort ManagementDeviceBusName = 1;
    public const ushort ManagementDeviceDeviceName = 2;
    public const ushort ManagementDeviceSupportedClasses = 3;
    public const ushort DeviceName = 4;
    public const ushort VirtioDeviceId = 5;
    public const ushort DeviceVendorId = 6;
    public const ushort DeviceMaxQueues = 7;
    public const ushort DeviceMaxQueueSize = 8;
    public const ushort DeviceMinQueueSize = 9;
    public const ushort NetConfigMacAddress = 10;
    public const ushort NetStatus = 11;
    public const ushort NetConfigMaxQueuePairs = 12;
    public const ushort NetConfigMtu = 13;
    public const ushort NegotiatedFeatures = 14;
    public const ushort ManagementDeviceMaxQueues = 15;
    public const ushort SupportedFeatures = 16;
    public const ushort QueueIndex = 17;
    public const ushort VendorAttributeName = 18;
    public const ushort VendorAttributeValue = 19;
    public const ushort DeviceFeatures = 20;
    public const ushort BlockCapacity = 21;

    /// <summary>Linux 6.1 only: VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES, a device's offered features in DEV_CONFIG_GET (6.2 moved them to 20, 6.9 reused 21).</summary>
    public const ushort Legacy61DeviceFeatures = 21;
    public const ushort BlockSizeMax = 22;
    public const ushort BlockBlockSize = 23;
    public const ushort BlockSegmentMax = 24;
    public const ushort BlockQueueCount = 25;
    public const ushort BlockPhysicalBlockExponent = 26;
    public const ushort BlockAlignmentOffset = 27;
    public const ushort BlockMinIoSize = 28;
    public const ushort BlockOptimalIoSize = 29;
    public const ushort BlockMaxDiscardSectors = 30;
    public const ushort BlockMaxDiscardSegments = 31;
    public const ushort BlockDiscardSectorAlignment = 32;
    public const ushort BlockMaxWriteZeroesSectors = 33;
    public const ushort BlockMaxWriteZeroesSegments = 34;
    public const ushort BlockReadOnly = 35;
    public const ushort BlockFlush = 36;

    /// <summary>The uAPI names, for messages that tell which attribute a kernel dropped or refused.</summary>
    public static string GetName(int attribute) => VdpaKernelCatalog.FindAttribute(attribute)?.UapiName ?? $"attribute {attribute}";
}

/// <summary>The vdpa family's own constants.</summary>
internal static class VdpaFamily
{
    public const string Name = "vdpa";
    public const byte Version = 1;

    /// <summary>The highest queue index DEV_VSTATS_GET takes: vdpa.c refuses <c>index &gt; VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX</c> (0x8000) with ERANGE.</summary>
    public const uint MaxQueueIndex = 0x8000;

    /// <summary>The most queue pairs virtio-net allows (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX).</summary>
    public const ushort MaxQueuePairs = 0x8000;

    /// <summary>The smallest MTU the kernel's policy accepts (ETH_MIN_MTU).</summary>
    public const ushort MinMtu = 68;
}

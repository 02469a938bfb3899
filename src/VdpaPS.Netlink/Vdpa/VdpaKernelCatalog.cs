using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>What one vdpa attribute number means, and the Linux release whose uAPI header added it.</summary>
/// <param name="Id">The attribute number.</param>
/// <param name="Shape">How its payload is laid out, which the decoders check before they read it.</param>
/// <param name="UapiName">The name in include/uapi/linux/vdpa.h, without the VDPA_ATTR_ prefix.</param>
/// <param name="Meaning">What it carries, in a user's words.</param>
/// <param name="AddedIn">The first Linux release with it.</param>
/// <param name="RemovedIn">The first release without it (for 21, which 6.1 alone had as device features).</param>
internal sealed record VdpaAttributeInfo(ushort Id, VdpaAttributeShape Shape, string UapiName, string Meaning, string AddedIn, string? RemovedIn = null)
{
    /// <summary>The New-VdpaDevice parameter that sends it in DEV_NEW (from <see cref="VdpaProvisioning"/>); null for the others.</summary>
    public string? Parameter => RemovedIn is null ? VdpaProvisioning.Find(Id)?.Parameter : null;
}

/// <summary>The payload of a vdpa attribute as the kernel sends it.</summary>
internal enum VdpaAttributeShape : byte
{
    String,
    U8,
    U16,
    U32,
    U64,

    /// <summary>Six bytes.</summary>
    MacAddress,

    /// <summary>Declared u8, sent as u16: any unsigned width, holding a value of at most 16 bits.</summary>
    NetStatus,
}

/// <summary>A vdpa command and the Linux release that added it.</summary>
internal sealed record VdpaCommandInfo(VdpaCommand Command, string UapiName, string Meaning, string AddedIn);

/// <summary>Something a cmdlet needs from the kernel that not every vdpa family has.</summary>
public enum VdpaCapability
{
    DeviceConfig,
    ParentFeatures,
    VendorStatistics,
    DeviceFeatureProvisioning,
    BlockConfig,
    SetAttributes,
}

/// <summary>A capability: what it is, what tells it apart in nlctrl's description, and the release that added it.</summary>
public sealed record VdpaCapabilityInfo(VdpaCapability Capability, string Description, string NeededFromKernel, string AddedIn);

/// <summary>
/// The one description of the vdpa uAPI across kernel releases: every attribute and command with the release
/// that added it (from the header's history as iproute2 synced it: 5.12, 5.16, 5.18, 5.19, 6.1, 6.2, 6.9, 6.12).
/// </summary>
/// <remarks>
/// The family registers maxattr as VDPA_ATTR_MAX, one past its last attribute, and nlctrl reports it: 20 on 5.19 and
/// 6.0, 22 on 6.1 (attribute 21 = device features), 21 on 6.2 to 6.8 (21 removed), 37 from 6.9 (21 = block capacity).
/// </remarks>
internal static class VdpaKernelCatalog
{
    public static IReadOnlyList<VdpaAttributeInfo> Attributes { get; } =
    [
        new(VdpaAttribute.ManagementDeviceBusName, VdpaAttributeShape.String, "MGMTDEV_BUS_NAME", "the parent's bus (pci, auxiliary)", "5.12"),
        new(VdpaAttribute.ManagementDeviceDeviceName, VdpaAttributeShape.String, "MGMTDEV_DEV_NAME", "the parent's device name", "5.12"),
        new(VdpaAttribute.ManagementDeviceSupportedClasses, VdpaAttributeShape.U64, "MGMTDEV_SUPPORTED_CLASSES", "the device classes a parent creates", "5.12"),
        new(VdpaAttribute.DeviceName, VdpaAttributeShape.String, "DEV_NAME", "the device's name", "5.12"),
        new(VdpaAttribute.VirtioDeviceId, VdpaAttributeShape.U32, "DEV_ID", "the virtio device id (1 net, 2 block)", "5.12"),
        new(VdpaAttribute.DeviceVendorId, VdpaAttributeShape.U32, "DEV_VENDOR_ID", "the virtio vendor id", "5.12"),
        new(VdpaAttribute.DeviceMaxQueues, VdpaAttributeShape.U32, "DEV_MAX_VQS", "the device's virtqueues", "5.12"),
        new(VdpaAttribute.DeviceMaxQueueSize, VdpaAttributeShape.U16, "DEV_MAX_VQ_SIZE", "the largest virtqueue size", "5.12"),
        new(VdpaAttribute.DeviceMinQueueSize, VdpaAttributeShape.U16, "DEV_MIN_VQ_SIZE", "the smallest virtqueue size", "5.16"),
        new(VdpaAttribute.NetConfigMacAddress, VdpaAttributeShape.MacAddress, "DEV_NET_CFG_MACADDR", "a net device's MAC address", "5.16"),
        new(VdpaAttribute.NetStatus, VdpaAttributeShape.NetStatus, "DEV_NET_STATUS", "a net device's link status", "5.16"),
        new(VdpaAttribute.NetConfigMaxQueuePairs, VdpaAttributeShape.U16, "DEV_NET_CFG_MAX_VQP", "a net device's most queue pairs", "5.16"),
        new(VdpaAttribute.NetConfigMtu, VdpaAttributeShape.U16, "DEV_NET_CFG_MTU", "a net device's MTU", "5.16"),
        new(VdpaAttribute.NegotiatedFeatures, VdpaAttributeShape.U64, "DEV_NEGOTIATED_FEATURES", "the features a driver negotiated", "5.18"),
        new(VdpaAttribute.ManagementDeviceMaxQueues, VdpaAttributeShape.U32, "DEV_MGMTDEV_MAX_VQS", "the most virtqueues a parent gives a device", "5.18"),
        new(VdpaAttribute.SupportedFeatures, VdpaAttributeShape.U64, "DEV_SUPPORTED_FEATURES", "the features a parent can offer", "5.18"),
        new(VdpaAttribute.QueueIndex, VdpaAttributeShape.U32, "DEV_QUEUE_INDEX", "a queue's index in statistics", "5.19"),
        new(VdpaAttribute.VendorAttributeName, VdpaAttributeShape.String, "DEV_VENDOR_ATTR_NAME", "a vendor counter's name", "5.19"),
        new(VdpaAttribute.VendorAttributeValue, VdpaAttributeShape.U64, "DEV_VENDOR_ATTR_VALUE", "a vendor counter's value", "5.19"),
        new(VdpaAttribute.DeviceFeatures, VdpaAttributeShape.U64, "DEV_FEATURES", "the device features asked for at creation (and, from 6.2, those a device offers)", "6.1"),
        new(VdpaAttribute.Legacy61DeviceFeatures, VdpaAttributeShape.U64, "VDPA_DEV_SUPPORTED_FEATURES", "the features a device offers (Linux 6.1 only)", "6.1", RemovedIn: "6.2"),
        new(VdpaAttribute.BlockCapacity, VdpaAttributeShape.U64, "DEV_BLK_CFG_CAPACITY", "a block device's capacity in sectors", "6.9"),
        new(VdpaAttribute.BlockSizeMax, VdpaAttributeShape.U32, "DEV_BLK_CFG_SIZE_MAX", "a block device's largest segment", "6.9"),
        new(VdpaAttribute.BlockBlockSize, VdpaAttributeShape.U32, "DEV_BLK_CFG_BLK_SIZE", "a block device's block size", "6.9"),
        new(VdpaAttribute.BlockSegmentMax, VdpaAttributeShape.U32, "DEV_BLK_CFG_SEG_MAX", "a block device's most segments", "6.9"),
        new(VdpaAttribute.BlockQueueCount, VdpaAttributeShape.U16, "DEV_BLK_CFG_NUM_QUEUES", "a block device's queues", "6.9"),
        new(VdpaAttribute.BlockPhysicalBlockExponent, VdpaAttributeShape.U8, "DEV_BLK_CFG_PHY_BLK_EXP", "a block device's physical block exponent", "6.9"),
        new(VdpaAttribute.BlockAlignmentOffset, VdpaAttributeShape.U8, "DEV_BLK_CFG_ALIGN_OFFSET", "a block device's alignment offset", "6.9"),
        new(VdpaAttribute.BlockMinIoSize, VdpaAttributeShape.U16, "DEV_BLK_CFG_MIN_IO_SIZE", "a block device's smallest I/O", "6.9"),
        new(VdpaAttribute.BlockOptimalIoSize, VdpaAttributeShape.U32, "DEV_BLK_CFG_OPT_IO_SIZE", "a block device's optimal I/O", "6.9"),
        new(VdpaAttribute.BlockMaxDiscardSectors, VdpaAttributeShape.U32, "DEV_BLK_CFG_MAX_DISCARD_SEC", "a block device's most discard sectors", "6.9"),
        new(VdpaAttribute.BlockMaxDiscardSegments, VdpaAttributeShape.U32, "DEV_BLK_CFG_MAX_DISCARD_SEG", "a block device's most discard segments", "6.9"),
        new(VdpaAttribute.BlockDiscardSectorAlignment, VdpaAttributeShape.U32, "DEV_BLK_CFG_DISCARD_SEC_ALIGN", "a block device's discard alignment", "6.9"),
        new(VdpaAttribute.BlockMaxWriteZeroesSectors, VdpaAttributeShape.U32, "DEV_BLK_CFG_MAX_WRITE_ZEROES_SEC", "a block device's most write-zeroes sectors", "6.9"),
        new(VdpaAttribute.BlockMaxWriteZeroesSegments, VdpaAttributeShape.U32, "DEV_BLK_CFG_MAX_WRITE_ZEROES_SEG", "a block device's most write-zeroes segments", "6.9"),
        new(VdpaAttribute.BlockReadOnly, VdpaAttributeShape.U8, "DEV_BLK_READ_ONLY", "whether a block device is read-only", "6.9"),
        new(VdpaAttribute.BlockFlush, VdpaAttributeShape.U8, "DEV_BLK_FLUSH", "whether a block device flushes", "6.9"),
    ];

    public static IReadOnlyList<VdpaCommandInfo> Commands { get; } =
    [
        new(VdpaCommand.ManagementDeviceGet, "MGMTDEV_GET", "list parents", "5.12"),
        new(VdpaCommand.DeviceNew, "DEV_NEW", "create a device", "5.12"),
        new(VdpaCommand.DeviceDelete, "DEV_DEL", "remove a device", "5.12"),
        new(VdpaCommand.DeviceGet, "DEV_GET", "list devices", "5.12"),
        new(VdpaCommand.DeviceConfigGet, "DEV_CONFIG_GET", "read a device's configuration", "5.16"),
        new(VdpaCommand.DeviceVendorStatsGet, "DEV_VSTATS_GET", "read a queue's vendor statistics", "5.19"),
        new(VdpaCommand.DeviceAttributeSet, "DEV_ATTR_SET", "change a device's MAC address after creation", "6.12"),
    ];

    public static IReadOnlyList<VdpaCapabilityInfo> Capabilities { get; } =
    [
        new(VdpaCapability.DeviceConfig, "reading a device's configuration", "DEV_CONFIG_GET", "5.16"),
        new(VdpaCapability.ParentFeatures, "a parent's supported features", "DEV_SUPPORTED_FEATURES", "5.18"),
        new(VdpaCapability.VendorStatistics, "queue statistics", "DEV_VSTATS_GET", "5.19"),
        new(VdpaCapability.DeviceFeatureProvisioning, "choosing a device's features at creation", "DEV_FEATURES", "6.1"),
        new(VdpaCapability.BlockConfig, "a block device's configuration", "the DEV_BLK_CFG attributes of DEV_CONFIG_GET", "6.9"),
        new(VdpaCapability.SetAttributes, "changing a device's MAC address after creation", "DEV_ATTR_SET", "6.12"),
    ];

    /// <summary>The attribute a number means; 21 is two attributes (6.1's device features, 6.9's block capacity), so the family decides.</summary>
    public static VdpaAttributeInfo? FindAttribute(int id, VdpaFamilyCapabilities? family = null)
    {
        var legacy = id == VdpaAttribute.Legacy61DeviceFeatures && family is { Attribute21: VdpaAttribute21Meaning.DeviceFeatures };
        foreach (var a in Attributes)
        {
            if (a.Id == id && (a.RemovedIn is null) != legacy)
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>The payload shape of attribute <paramref name="id"/> (21 is a u64 in both its meanings); a string for unknown ids.</summary>
    public static VdpaAttributeShape ShapeOf(ushort id) => id < Shapes.Length ? Shapes[id] : VdpaAttributeShape.String;

    private static readonly VdpaAttributeShape[] Shapes = ShapesById();

    private static VdpaAttributeShape[] ShapesById()
    {
        var shapes = new VdpaAttributeShape[Attributes.Max(a => a.Id) + 1];
        foreach (var a in Attributes)
        {
            shapes[a.Id] = a.Shape;
        }

        return shapes;
    }

    public static VdpaCommandInfo? FindCommand(VdpaCommand command) => Commands.FirstOrDefault(c => c.Command == command);

    public static VdpaCapabilityInfo Describe(VdpaCapability capability) => Capabilities.First(c => c.Capability == capability);
}

/// <summary>What attribute 21 means in a family's replies.</summary>
internal enum VdpaAttribute21Meaning
{
    /// <summary>The family has no attribute 21 (before 6.1, and 6.2 to 6.8).</summary>
    None,

    /// <summary>Linux 6.1: VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES, a device's offered features in DEV_CONFIG_GET.</summary>
    DeviceFeatures,

    /// <summary>Linux 6.9 and later: VDPA_ATTR_DEV_BLK_CFG_CAPACITY.</summary>
    BlockCapacity,
}

/// <summary>What one kernel's vdpa family can do and means, read from nlctrl's description (its ops and maxattr).</summary>
internal sealed class VdpaFamilyCapabilities
{
    public VdpaFamilyCapabilities(GenericNetlinkFamily family)
    {
        Family = family;
        Attribute21 = SupportsAttribute(VdpaAttribute.BlockSizeMax) ? VdpaAttribute21Meaning.BlockCapacity
            : SupportsAttribute(VdpaAttribute.BlockCapacity) ? VdpaAttribute21Meaning.DeviceFeatures
            : VdpaAttribute21Meaning.None;
    }

    /// <summary>A 6.12 family, for decoding without a family at hand (fixtures, fuzzing, benchmarks).</summary>
    public static VdpaFamilyCapabilities Current { get; } = new(new GenericNetlinkFamily(
        VdpaFamily.Name, 0x20, VdpaFamily.Version, 0, VdpaAttribute.BlockFlush + 1u,
        [.. VdpaKernelCatalog.Commands.Select(c => new GenericOperation((uint)c.Command, GenericOperationFlags.Do | GenericOperationFlags.Dump))], []));

    public GenericNetlinkFamily Family { get; }

    public VdpaAttribute21Meaning Attribute21 { get; }

    /// <summary>Whether the family knows the attribute: it registers maxattr as VDPA_ATTR_MAX, one past its last.</summary>
    public bool SupportsAttribute(int attribute) => attribute < Family.MaxAttribute;

    public bool Supports(VdpaCommand command) => Family.TryGetOperation((uint)command, out _);

    public bool Supports(VdpaCapability capability) => capability switch
    {
        VdpaCapability.DeviceConfig => Supports(VdpaCommand.DeviceConfigGet),
        VdpaCapability.ParentFeatures => SupportsAttribute(VdpaAttribute.SupportedFeatures),
        VdpaCapability.VendorStatistics => Supports(VdpaCommand.DeviceVendorStatsGet),
        VdpaCapability.DeviceFeatureProvisioning => SupportsAttribute(VdpaAttribute.DeviceFeatures),
        VdpaCapability.BlockConfig => Attribute21 == VdpaAttribute21Meaning.BlockCapacity,
        VdpaCapability.SetAttributes => Supports(VdpaCommand.DeviceAttributeSet),
        _ => false,
    };

    /// <summary>The releases this family's description fits, for messages ("Linux 6.1", "Linux 6.2 to 6.8").</summary>
    public string KernelRange
    {
        get
        {
            var max = Family.MaxAttribute;
            if (Supports(VdpaCommand.DeviceAttributeSet))
            {
                return "Linux 6.12 or later";
            }

            return max switch
            {
                > VdpaAttribute.BlockCapacity + 1 => "Linux 6.9 to 6.11",
                VdpaAttribute.BlockCapacity + 1 => "Linux 6.1",
                VdpaAttribute.BlockCapacity => "Linux 6.2 to 6.8",
                > VdpaAttribute.QueueIndex => "Linux 5.19 or 6.0",
                > VdpaAttribute.NegotiatedFeatures => "Linux 5.18",
                _ => "a Linux release before 5.18",
            };
        }
    }

    /// <summary>"this kernel's vdpa family (maxattr 22, commands 2-7: Linux 6.1)", for messages that explain a refusal.</summary>
    public string Summary =>
        $"this kernel's vdpa family (maxattr {Family.MaxAttribute}, commands {string.Join(",", Family.Operations.Select(o => o.Command).Order())}: {KernelRange})";

    /// <summary>Why the capability is missing, in a user's words, with the release that added it.</summary>
    public string Explain(VdpaCapability capability)
    {
        var info = VdpaKernelCatalog.Describe(capability);
        return $"{Capitalize(info.Description)} needs {info.NeededFromKernel}, which came in Linux {info.AddedIn}; {Summary} does not have it.";
    }

    internal static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}

/// <summary>The kernel's vdpa family lacks what the request needs: the capability and the release that added it.</summary>
public sealed class VdpaCapabilityException : NetlinkException
{
    internal VdpaCapabilityException(VdpaCapability capability, VdpaFamilyCapabilities family, string operation, Exception? inner = null)
        : base(family.Explain(capability), LinuxErrno.EOPNOTSUPP, operation, inner)
    {
        Capability = VdpaKernelCatalog.Describe(capability);
    }

    public VdpaCapabilityInfo Capability { get; }
}

namespace VdpaPS;

/// <summary>Why a device's twin cannot be made on a parent: what a live migration to that parent would stumble on.</summary>
public enum VdpaMigrationReasonKind
{
    /// <summary>The parent does not create devices of the source's class (net, block).</summary>
    ClassMismatch,

    /// <summary>The source offers a feature the parent cannot offer (one reason per feature, named in Item).</summary>
    FeatureMissing,

    /// <summary>The source's queue pairs need more virtqueues than the parent gives a device.</summary>
    QueuePairsAboveLimit,

    /// <summary>The parent cannot set an attribute at creation (Item: MacAddress, Mtu, MaxQueuePairs, Feature), and the value its device would have differs from the source's.</summary>
    AttributeDiffers,

    /// <summary>The destination's kernel cannot create a device with a chosen feature set (DEV_FEATURES came in Linux 6.1), and the source's set is not the parent's own.</summary>
    KernelCannotProvisionFeatures,

    /// <summary>A device of the source's name is already on the destination host.</summary>
    NameTaken,

    /// <summary>The parent's driver keeps one device per parent (vp_vdpa), and the parent has one.</summary>
    ParentOccupied,

    /// <summary>Something the verdict needs is not known (Item says what): a check that cannot be sure says no.</summary>
    Unknown,
}

/// <summary>One reason a twin cannot be made: its kind, what it is about (a feature or attribute name), and the whole sentence.</summary>
public sealed class VdpaMigrationReason
{
    public VdpaMigrationReasonKind Kind { get; init; }

    /// <summary>The feature (MQ), attribute (MacAddress) or missing knowledge the reason is about; null for ClassMismatch, NameTaken, QueuePairsAboveLimit, ParentOccupied.</summary>
    public string? Item { get; init; }

    public string Message { get; init; } = string.Empty;

    /// <summary>"FeatureMissing:MQ", or the kind alone: short enough for a table, and what a script compares.</summary>
    public override string ToString() => Item is null ? Kind.ToString() : $"{Kind}:{Item}";
}

/// <summary>
/// Whether one device's twin (same class, offered features, MAC, MTU and queue pairs) can be made on one parent, and each
/// reason it cannot. Piped to New-VdpaDevice it creates the twin: Name, Parent, MacAddress, Mtu, MaxQueuePairs, the
/// features and the class bind by property name.
/// </summary>
public sealed class VdpaMigrationCheck
{
    /// <summary>The source device's name, which its twin takes.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The host the source device was read on (PSComputerName of a remoting result); null for this host.</summary>
    public string? ComputerName { get; init; }

    /// <summary>The destination parent, as its host names it.</summary>
    public string Parent { get; init; } = string.Empty;

    /// <summary>The host the destination parent was read on; null for this host.</summary>
    public string? DestinationComputerName { get; init; }

    /// <summary>The source's device class.</summary>
    public VirtioDeviceClass Type { get; init; }

    /// <summary>True when nothing known stands against the twin on this parent.</summary>
    public bool CanCreateTwin => Reasons.Length == 0;

    public VdpaMigrationReason[] Reasons { get; init; } = [];

    /// <summary>The source's offered features by name (bit_N for bits without one): what the guest negotiated from.</summary>
    public string[] DeviceFeatures { get; init; } = [];

    public ulong? DeviceFeatureMask { get; init; }

    public string? MacAddress { get; init; }

    public ushort? Mtu { get; init; }

    /// <summary>The source's queue pairs (1 for a net device without MQ or RSS); null for a block device.</summary>
    public ushort? MaxQueuePairs { get; init; }

    public override string ToString() => $"{Name} -> {Parent}: {(CanCreateTwin ? "twin possible" : string.Join(", ", Reasons.Select(r => r.ToString())))}";
}

/// <summary>A twin refused before anything was sent: <see cref="Reasons"/> names each reason.</summary>
public sealed class VdpaMigrationException(string message, IReadOnlyList<VdpaMigrationReason> reasons) : InvalidOperationException(message)
{
    public IReadOnlyList<VdpaMigrationReason> Reasons { get; } = reasons;
}

namespace VdpaPS;

/// <summary>
/// The device features every one of a set of parents (on one host or many) can provision: a device created with these on
/// any of them offers a VM the same features, which is what live migration between those hosts needs.
/// </summary>
public sealed class VdpaCommonFeatures
{
    /// <summary>The class of device the features are for (feature names and bits below 24 depend on it).</summary>
    public VirtioDeviceClass DeviceClass { get; init; }

    /// <summary>Names of the features all parents support, lowest bit first; feeds New-VdpaDevice -Feature.</summary>
    public string[] Features { get; init; } = [];

    public ulong FeatureMask { get; init; }

    /// <summary>Each parent as it was given, with what it supports beyond the common set.</summary>
    public VdpaParentExtraFeatures[] Parents { get; init; } = [];

    public override string ToString() => string.Join(' ', Features);
}

/// <summary>One parent of a common-feature computation and the features it has that not all the others have.</summary>
public sealed class VdpaParentExtraFeatures
{
    /// <summary>The host the parent was read on (PSComputerName of a remoting result); null for a parent read here.</summary>
    public string? ComputerName { get; init; }

    public string Parent { get; init; } = string.Empty;

    public ulong SupportedFeatureMask { get; init; }

    /// <summary>Names of the features this parent supports beyond the common set.</summary>
    public string[] ExtraFeatures { get; init; } = [];

    public ulong ExtraFeatureMask { get; init; }

    public override string ToString() => ComputerName is null ? Parent : $"{Parent} on {ComputerName}";
}

/// <summary>Why a set of parents has no common feature set.</summary>
public enum VdpaCommonFeatureFailure
{
    /// <summary>No device class is supported by all parents (a net and a block parent).</summary>
    MixedClasses,

    /// <summary>Every parent supports more than one class in common, and none was chosen.</summary>
    AmbiguousClass,

    /// <summary>A parent whose kernel does not report the features it supports.</summary>
    FeaturesUnknown,
}

/// <summary>The parents given cannot have a common feature set; <see cref="Failure"/> says why.</summary>
public sealed class VdpaCommonFeatureException(VdpaCommonFeatureFailure failure, string message) : ArgumentException(message)
{
    public VdpaCommonFeatureFailure Failure { get; } = failure;
}

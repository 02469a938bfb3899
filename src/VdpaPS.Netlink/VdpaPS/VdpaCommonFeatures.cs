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

/// <summary>What one parent contributes: its name, where it was read, its classes and its supported-feature mask.</summary>
internal sealed record VdpaFeatureSource(string Parent, string? ComputerName, IReadOnlyList<VirtioDeviceClass> Classes, ulong? FeatureMask)
{
    public override string ToString() => ComputerName is null ? $"'{Parent}'" : $"'{Parent}' on {ComputerName}";
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

internal static class VdpaFeatureIntersection
{
    /// <summary>
    /// The features all <paramref name="parents"/> support (the AND of their masks) for one device class: the one class they
    /// all have, or <paramref name="deviceClass"/> when given. Throws <see cref="VdpaCommonFeatureException"/> when the
    /// classes differ, are ambiguous, or a parent's mask is unknown; returns null for no parents.
    /// </summary>
    public static VdpaCommonFeatures? Compute(IReadOnlyList<VdpaFeatureSource> parents, VirtioDeviceClass? deviceClass = null)
    {
        ArgumentNullException.ThrowIfNull(parents);
        if (parents.Count == 0)
        {
            return null;
        }

        var chosen = ChooseClass(parents, deviceClass);

        var unknown = parents.Where(p => p.FeatureMask is null).ToList();
        if (unknown.Count > 0)
        {
            throw new VdpaCommonFeatureException(VdpaCommonFeatureFailure.FeaturesUnknown,
                $"The kernel does not report which features {Describe(unknown)} can provision (no supported-features mask; Linux 5.19 " +
                "added it, and not every parent driver fills it in), so no common feature set can be computed.");
        }

        var common = parents.Aggregate(ulong.MaxValue, (mask, p) => mask & p.FeatureMask!.Value);
        return new VdpaCommonFeatures
        {
            DeviceClass = chosen,
            Features = VirtioFeatures.GetNames(common, chosen),
            FeatureMask = common,
            Parents = parents.Select(p => new VdpaParentExtraFeatures
            {
                ComputerName = p.ComputerName,
                Parent = p.Parent,
                SupportedFeatureMask = p.FeatureMask!.Value,
                ExtraFeatureMask = p.FeatureMask!.Value & ~common,
                ExtraFeatures = VirtioFeatures.GetNames(p.FeatureMask!.Value & ~common, chosen),
            }).ToArray(),
        };
    }

    private static VirtioDeviceClass ChooseClass(IReadOnlyList<VdpaFeatureSource> parents, VirtioDeviceClass? deviceClass)
    {
        if (deviceClass is { } wanted)
        {
            var lacking = parents.Where(p => !p.Classes.Contains(wanted)).ToList();
            if (lacking.Count > 0)
            {
                throw new VdpaCommonFeatureException(VdpaCommonFeatureFailure.MixedClasses,
                    $"Not every parent creates {wanted} devices: {DescribeClasses(lacking)}. Features are common only among " +
                    "parents of one device class.");
            }

            return wanted;
        }

        var shared = parents.Skip(1).Aggregate(parents[0].Classes.Where(c => c != VirtioDeviceClass.Unknown).ToHashSet(),
            (set, p) => { set.IntersectWith(p.Classes); return set; });
        if (shared.Count == 0)
        {
            throw new VdpaCommonFeatureException(VdpaCommonFeatureFailure.MixedClasses,
                $"The parents create different classes of device: {DescribeClasses(parents)}. Features are common only among " +
                "parents of one device class: give parents of one class.");
        }

        if (shared.Count > 1)
        {
            throw new VdpaCommonFeatureException(VdpaCommonFeatureFailure.AmbiguousClass,
                $"Every parent creates {string.Join(" and ", shared.Order())} devices, and feature names and bits differ " +
                "between classes: say which with -DeviceClass.");
        }

        return shared.Single();
    }

    private static string Describe(IEnumerable<VdpaFeatureSource> parents) => string.Join(", ", parents);

    private static string DescribeClasses(IEnumerable<VdpaFeatureSource> parents) =>
        string.Join("; ", parents.Select(p => $"{p} creates {(p.Classes.Count == 0 ? "no known class" : string.Join(", ", p.Classes))}"));
}

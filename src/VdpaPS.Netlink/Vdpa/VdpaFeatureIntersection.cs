namespace VdpaPS.Netlink.Vdpa;

/// <summary>What one parent contributes: its name, where it was read, its classes and its supported-feature mask.</summary>
internal sealed record VdpaFeatureSource(string Parent, string? ComputerName, IReadOnlyList<VirtioDeviceClass> Classes, ulong? FeatureMask)
{
    public override string ToString() => ComputerName is null ? $"'{Parent}'" : $"'{Parent}' on {ComputerName}";
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

using System.Globalization;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// One attribute DEV_NEW can carry beyond the names: where it is in the spec, how it is written, and how the device
/// read back (DEV_CONFIG_GET) shows whether it was applied. The uAPI name and the release that added it are the
/// catalog's (<see cref="Info"/>).
/// </summary>
/// <param name="Id">The vdpa attribute number.</param>
/// <param name="Parameter">The New-VdpaDevice parameter that sends it.</param>
/// <param name="Label">Its name in a -WhatIf text ("MTU").</param>
/// <param name="Asked">The value the spec asks for, as text; null when the spec leaves the attribute out.</param>
/// <param name="Write">Writes the spec's value into the request.</param>
/// <param name="Without">The spec without the attribute.</param>
/// <param name="Shown">What the device shows, as text comparable with <paramref name="Asked"/>; null when it shows none.</param>
/// <param name="NeededNetFeature">The virtio-net feature bit the device needs to show the value, or -1.</param>
/// <param name="Reported">Whether this kernel's DEV_CONFIG_GET can show the attribute at all; null when it always can.</param>
internal sealed record VdpaProvisioningAttribute(
    ushort Id,
    string Parameter,
    string Label,
    Func<VdpaDeviceSpec, string?> Asked,
    Action<NetlinkMessageWriter, VdpaDeviceSpec> Write,
    Func<VdpaDeviceSpec, VdpaDeviceSpec> Without,
    Func<VdpaDeviceConfig, string?> Shown,
    int NeededNetFeature = -1,
    Func<VdpaDeviceConfig, bool>? Reported = null)
{
    /// <summary>The catalog's entry: uAPI name and the Linux release that added the attribute.</summary>
    public VdpaAttributeInfo Info { get; } = VdpaKernelCatalog.FindAttribute(Id)
        ?? throw new InvalidOperationException($"Attribute {Id} is not in the vdpa catalog.");

    /// <summary>"Applied" means the device shows the value asked (MAC in any case, numbers and masks equal).</summary>
    public bool IsApplied(VdpaDeviceSpec spec, VdpaDeviceConfig config) =>
        string.Equals(Asked(spec), Shown(config), StringComparison.OrdinalIgnoreCase);
}

/// <summary>What a read-back found for one attribute: not applied (an error) or not checkable on this kernel (a warning).</summary>
internal sealed record VdpaProvisioningFinding(VdpaProvisioningAttribute Attribute, bool Unverifiable, string Message);

/// <summary>
/// The one description of what New-VdpaDevice provisions: the DEV_NEW attributes in the order they are written, what
/// the cmdlet says about them (-WhatIf, -Verbose), which this kernel's family would drop, and what the read-back found.
/// </summary>
/// <remarks>Adding an attribute: one entry in <see cref="Attributes"/>, the spec's property and the cmdlet's parameter.</remarks>
internal static class VdpaProvisioning
{
    private const int VirtioNetFeatureMtu = 3;
    private const int VirtioNetFeatureMac = 5;

    public static IReadOnlyList<VdpaProvisioningAttribute> Attributes { get; } =
    [
        new(VdpaAttribute.NetConfigMacAddress, "-MacAddress", "MAC",
            s => s.MacAddress is { } mac ? VdpaText.FormatMacAddress(mac) : null,
            (w, s) => w.WriteBytes(VdpaAttribute.NetConfigMacAddress, s.MacAddress),
            s => s with { MacAddress = null },
            c => (c as VdpaNetDeviceConfig)?.MacAddress,
            NeededNetFeature: VirtioNetFeatureMac),
        new(VdpaAttribute.NetConfigMtu, "-Mtu", "MTU",
            s => Text(s.Mtu),
            (w, s) => w.WriteU16(VdpaAttribute.NetConfigMtu, s.Mtu!.Value),
            s => s with { Mtu = null },
            c => Text((c as VdpaNetDeviceConfig)?.Mtu),
            NeededNetFeature: VirtioNetFeatureMtu),
        new(VdpaAttribute.NetConfigMaxQueuePairs, "-MaxQueuePairs", "max queue pairs",
            s => Text(s.MaxQueuePairs),
            (w, s) => w.WriteU16(VdpaAttribute.NetConfigMaxQueuePairs, s.MaxQueuePairs!.Value),
            s => s with { MaxQueuePairs = null },
            c => c is VdpaNetDeviceConfig net ? Text(VdpaDecoder.NetQueuePairs(net.MaxQueuePairs)) : null),
        new(VdpaAttribute.DeviceFeatures, "-Feature", "features",
            s => Hex(s.Features),
            (w, s) => w.WriteU64(VdpaAttribute.DeviceFeatures, s.Features!.Value),
            s => s with { Features = null },
            c => Hex(c.DeviceFeatureMask),
            Reported: c => c.DeviceFeatureMask is not null),
    ];

    /// <summary>The entry for a DEV_NEW attribute; null for one New-VdpaDevice does not send.</summary>
    public static VdpaProvisioningAttribute? Find(int attribute) => Attributes.FirstOrDefault(a => a.Id == attribute);

    /// <summary>The parameter of New-VdpaDevice that sends an attribute, or its uAPI name.</summary>
    public static string ParameterOf(int attribute) => Find(attribute)?.Parameter ?? VdpaAttribute.GetName(attribute);

    /// <summary>The attributes the spec sends beyond the names, in the order DEV_NEW writes them.</summary>
    public static IEnumerable<VdpaProvisioningAttribute> Given(VdpaDeviceSpec spec) => Attributes.Where(a => a.Asked(spec) is not null);

    /// <summary>The spec's attributes this family does not know: commands up to VSTATS_GET would accept and ignore them.</summary>
    public static IReadOnlyList<VdpaProvisioningAttribute> UnknownTo(VdpaFamilyCapabilities family, VdpaDeviceSpec spec) =>
        [.. Given(spec).Where(a => !family.SupportsAttribute(a.Id))];

    /// <summary>
    /// What goes out in DEV_NEW on this family: the spec without the attributes it does not know. The kernel would drop
    /// them without a word, so leaving them out changes nothing there, and -Verbose shows what the kernel will use.
    /// </summary>
    public static VdpaDeviceSpec ForFamily(VdpaFamilyCapabilities family, VdpaDeviceSpec spec) =>
        UnknownTo(family, spec).Aggregate(spec, (s, a) => a.Without(s));

    /// <summary>The warning for an attribute this family does not know, with the release that added it.</summary>
    public static string UnknownWarning(VdpaProvisioningAttribute attribute) =>
        $"This kernel's vdpa family does not know {attribute.Parameter} (attribute {attribute.Id}, {attribute.Info.UapiName}, added in Linux " +
        $"{attribute.Info.AddedIn}): it would accept the request and ignore it, so it is left out.";

    /// <summary>The DEV_NEW request in uAPI names, for -Verbose ("DEV_NAME=n MGMTDEV_DEV_NAME=p DEV_NET_CFG_MTU=1400").</summary>
    public static string DescribeRequest(VdpaDeviceSpec spec)
    {
        var (bus, device) = VdpaText.SplitParentName(spec.Parent);
        var names = bus is null ? $"DEV_NAME={spec.Name} MGMTDEV_DEV_NAME={device}" : $"DEV_NAME={spec.Name} MGMTDEV_BUS_NAME={bus} MGMTDEV_DEV_NAME={device}";
        return string.Join(' ', Given(spec).Select(a => $"{a.Info.UapiName}={a.Asked(spec)}").Prepend(names));
    }

    /// <summary>The attributes in a user's words, for -WhatIf (" with MAC=02:00:00:00:00:01, MTU=1400"); empty without any.</summary>
    public static string DescribeValues(VdpaDeviceSpec spec)
    {
        var parts = Given(spec).Select(a => $"{a.Label}={a.Asked(spec)}").ToList();
        return parts.Count == 0 ? string.Empty : " with " + string.Join(", ", parts);
    }

    /// <summary>
    /// Compares what the spec asked with what the device shows (DEV_CONFIG_GET). DEV_NEW is answered with a bare ACK,
    /// and a kernel may create a device without a value (it did not know the attribute; 6.1 without a feature the value
    /// needs), so every difference is a finding. Nothing when all was applied. New-VdpaDevice and Sync-VdpaConfiguration both
    /// ask here, so they agree on what "applied" means.
    /// </summary>
    /// <param name="named">How the message names an attribute: its parameter (-Mtu) by default, "its MTU" for a file's device.</param>
    public static IReadOnlyList<VdpaProvisioningFinding> CheckApplied(VdpaDeviceSpec spec, VdpaDeviceConfig config, VdpaFamilyCapabilities family,
        Func<VdpaProvisioningAttribute, string>? named = null)
    {
        named ??= a => a.Parameter;
        var findings = new List<VdpaProvisioningFinding>();
        foreach (var a in Given(spec))
        {
            if (a.Reported is { } reported && !reported(config))
            {
                findings.Add(new(a, true, $"This kernel does not report device {a.Label}, so whether {named(a)} was applied to '{spec.Name}' cannot be checked."));
            }
            else if (!a.IsApplied(spec, config))
            {
                findings.Add(new(a, false, $"vDPA device '{spec.Name}' was created, but {named(a)} was not applied: {a.Asked(spec)} was asked, the device has " +
                    $"{a.Shown(config) ?? "none"}. {WhyNotApplied(a, spec, family)}"));
            }
        }

        return findings;
    }

    /// <summary>Whether the read-back can be made at all: a block device's configuration needs 6.9. Null when it can.</summary>
    public static string? CannotCheck(VdpaDeviceSpec spec, VdpaDevice device, VdpaFamilyCapabilities family) =>
        device.Type == VirtioDeviceClass.Block && spec.Features is not null && !family.Supports(VdpaCapability.BlockConfig)
            ? $"Whether -Feature was applied to '{spec.Name}' cannot be checked: {family.Explain(VdpaCapability.BlockConfig)}"
            : null;

    private static string WhyNotApplied(VdpaProvisioningAttribute attribute, VdpaDeviceSpec spec, VdpaFamilyCapabilities family)
    {
        if (!family.SupportsAttribute(attribute.Id))
        {
            return $"{VdpaFamilyCapabilities.Capitalize(family.Summary)} does not know {attribute.Info.UapiName} (Linux {attribute.Info.AddedIn}), so it was left out.";
        }

        // 6.1 has no "Missing features" check: it creates the device without what -Feature leaves out.
        if (attribute.NeededNetFeature >= 0 && spec.Features is { } features && (features & (1UL << attribute.NeededNetFeature)) == 0)
        {
            return $"-Feature lacks {VirtioFeatures.GetNames(1UL << attribute.NeededNetFeature, VirtioDeviceClass.Net)[0]}, which the attribute needs, " +
                "and this kernel created the device without it instead of refusing.";
        }

        return "The kernel accepted the request without using the attribute (kernels before it existed ignore it).";
    }

    /// <summary>
    /// What each parent driver's DEV_NEW accepts beyond the names (its config_attr_mask, which the kernel does not
    /// report), by what <see cref="VdpaSysfs.GetParentKind"/> names: vdpa_sim_net, vp_vdpa and mlx5_vdpa set it; the
    /// simulator's block parent and VDUSE set none, and refuse every attribute (EOPNOTSUPP).
    /// </summary>
    private static readonly Dictionary<string, ushort[]> AcceptedByKind = new(StringComparer.Ordinal)
    {
        ["vdpasim_net"] = [VdpaAttribute.NetConfigMacAddress, VdpaAttribute.NetConfigMtu, VdpaAttribute.DeviceFeatures],
        ["vdpasim_blk"] = [],
        ["vduse"] = [],
        [VdpaSysfs.VirtioPciParentDriver] = [VdpaAttribute.DeviceFeatures],
        ["mlx5_core"] = [VdpaAttribute.NetConfigMacAddress, VdpaAttribute.NetConfigMtu, VdpaAttribute.NetConfigMaxQueuePairs, VdpaAttribute.DeviceFeatures],
        ["mlx5_core.sf"] = [VdpaAttribute.NetConfigMacAddress, VdpaAttribute.NetConfigMtu, VdpaAttribute.NetConfigMaxQueuePairs, VdpaAttribute.DeviceFeatures],
    };

    /// <summary>The attributes a parent of this kind accepts in DEV_NEW; null when the kind is not known.</summary>
    public static IReadOnlyList<VdpaProvisioningAttribute>? AcceptedBy(string? parentKind) =>
        parentKind is not null && AcceptedByKind.TryGetValue(parentKind, out var ids) ? [.. Attributes.Where(a => ids.Contains(a.Id))] : null;

    /// <summary>
    /// A device definition with only what its parent lets a create set (vp_vdpa: features, not the MAC, MTU or queue
    /// pairs the function has of its own), so a file written from it creates the device again. Unchanged when the
    /// parent's kind is not known.
    /// </summary>
    public static VdpaDeviceDefinition Restorable(VdpaDeviceDefinition definition, string? parentKind)
    {
        if (AcceptedBy(parentKind) is not { } accepted)
        {
            return definition;
        }

        bool Takes(ushort id) => accepted.Any(a => a.Id == id);
        return definition with
        {
            MacAddress = Takes(VdpaAttribute.NetConfigMacAddress) ? definition.MacAddress : null,
            Mtu = Takes(VdpaAttribute.NetConfigMtu) ? definition.Mtu : null,
            MaxQueuePairs = Takes(VdpaAttribute.NetConfigMaxQueuePairs) ? definition.MaxQueuePairs : null,
            Features = Takes(VdpaAttribute.DeviceFeatures) ? definition.Features : null,
        };
    }

    /// <summary>
    /// The DEV_NEW a file's device asks of its (resolved) parent. Features equal to the parent's offer are not sent,
    /// nor any to a parent that names none: a device created without features gets its parent's, and parents that
    /// provision none (vdpasim_blk, vduse) refuse the attribute. Null, with the reason, for a feature name of another class.
    /// </summary>
    public static VdpaDeviceSpec? FromDefinition(VdpaDeviceDefinition wanted, VdpaParent parent, out string? error)
    {
        error = null;
        ulong? features = null;
        if (wanted.Features is { } names)
        {
            var netAttributes = wanted.MacAddress is not null || wanted.Mtu is not null || wanted.MaxQueuePairs is not null;
            try
            {
                features = VirtioFeatures.ParseMask(names, FeatureClass(parent, netAttributes));
            }
            catch (ArgumentException e)
            {
                error = $"{VdpaText.ReasonOf(e)} (parent '{parent.Name}').";
                return null;
            }
        }

        if (parent.SupportedFeatureMask is not { } offered || offered == 0 || features == offered)
        {
            features = null;
        }

        return new VdpaDeviceSpec
        {
            Name = wanted.Name,
            Parent = parent.Name,
            MacAddress = wanted.MacAddress is null ? null : VdpaText.ParseMacAddress(wanted.MacAddress, out _),
            Mtu = (ushort?)wanted.Mtu,
            MaxQueuePairs = (ushort?)wanted.MaxQueuePairs,
            Features = features,
        };
    }

    /// <summary>
    /// Why the parent would refuse this DEV_NEW, known before anything is sent: an attribute its driver does not accept
    /// (or attributes given to a parent whose driver is not known), a feature it does not offer, more queue pairs than its
    /// virtqueues hold, net attributes on a parent that makes no net devices. Empty when nothing known stands against it.
    /// </summary>
    public static IReadOnlyList<string> CheckFits(VdpaDeviceSpec spec, VdpaParent parent, string? parentKind)
    {
        var problems = new List<string>();
        var given = Given(spec).ToList();
        var accepted = AcceptedBy(parentKind);
        if (given.Count > 0 && accepted is null)
        {
            problems.Add($"which attributes parent '{parent.Name}' (driver {parentKind ?? "unknown"}) accepts at creation is not known, so whether it " +
                $"takes {string.Join(", ", given.Select(a => a.Parameter))} cannot be told");
        }
        else
        {
            problems.AddRange(given.Where(a => !accepted!.Contains(a)).Select(a => $"parent '{parent.Name}' ({parentKind}) does not accept {a.Parameter}"));
        }

        if (spec.Features is { } asked && parent.SupportedFeatureMask is { } offered && (asked & ~offered) != 0)
        {
            var type = parent.SupportedClasses.Length == 1 ? parent.SupportedClasses[0] : VirtioDeviceClass.Unknown;
            problems.Add($"parent '{parent.Name}' does not offer the features {string.Join(", ", VirtioFeatures.GetNames(asked & ~offered, type))}");
        }

        if ((spec.MacAddress is not null || spec.Mtu is not null || spec.MaxQueuePairs is not null) && parent.SupportedClasses.Length > 0 &&
            !parent.SupportedClasses.Contains(VirtioDeviceClass.Net))
        {
            problems.Add($"parent '{parent.Name}' makes no net devices ({string.Join(", ", parent.SupportedClasses)}), and the MAC, MTU and queue pairs are a net device's");
        }

        // Each pair is two virtqueues; a parent reporting 0 has no limit of its own (VDUSE).
        if (spec.MaxQueuePairs is { } pairs && parent.MaxQueues is { } most && most > 0 && 2L * pairs > most)
        {
            problems.Add($"{pairs} queue pairs need {2 * pairs} virtqueues, and parent '{parent.Name}' gives a device at most {most}");
        }

        return problems;
    }

    private static string? Text(ushort? value) => value?.ToString(CultureInfo.InvariantCulture);

    private static string? Hex(ulong? mask) => mask is { } m ? $"0x{m.ToString("x", CultureInfo.InvariantCulture)}" : null;

    /// <summary>Which device class feature names mean on a parent: a parent of one class, that class; of several, net when net attributes are given (or the kernel names no class), else only transport names are known.</summary>
    public static VirtioDeviceClass FeatureClass(VdpaParent parent, bool netAttributes) =>
        parent.SupportedClasses.Length == 1 ? parent.SupportedClasses[0]
        : netAttributes || parent.SupportedClasses.Length == 0 ? VirtioDeviceClass.Net
        : VirtioDeviceClass.Unknown;
}

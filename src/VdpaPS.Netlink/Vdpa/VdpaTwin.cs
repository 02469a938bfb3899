using System.Globalization;
using VdpaPS.Netlink.Host;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// The device a VM sees, as a live migration must find it again: class, offered features, MAC, MTU and queue pairs
/// (what Get-VdpaDeviceConfig shows). <paramref name="MaxQueuePairs"/> is the device's, 1 for a net device without MQ or RSS.
/// </summary>
internal sealed record VdpaTwinSource(string Name, string? ComputerName, VirtioDeviceClass Class, ulong? FeatureMask, string? MacAddress,
    ushort? Mtu, ushort? MaxQueuePairs)
{
    public static VdpaTwinSource FromConfig(VdpaDeviceConfig config, string? computerName) => config is VdpaNetDeviceConfig net
        ? new(config.Name, computerName, config.Type, config.DeviceFeatureMask, net.MacAddress, net.Mtu, net.MaxQueuePairs)
        : new(config.Name, computerName, config.Type, config.DeviceFeatureMask, null, null, null);

    public override string ToString() => ComputerName is null ? $"'{Name}'" : $"'{Name}' on {ComputerName}";
}

/// <summary>A parent as the destination of a twin: what it is, and what its host has (<see cref="VdpaParent"/>'s destination properties).</summary>
internal sealed record VdpaTwinDestination(VdpaParent Parent, string? ComputerName)
{
    public override string ToString() => ComputerName is null ? $"'{Parent.Name}'" : $"'{Parent.Name}' on {ComputerName}";
}

/// <summary>
/// Whether a device's twin can be made on a parent, and the DEV_NEW that makes it; the one place both Test-VdpaMigration
/// and New-VdpaDevice (of a piped device) decide it, before anything is sent.
/// </summary>
internal static class VdpaTwin
{
    private const int Mtu = 3;
    private const int Mac = 5;
    private const int ControlQueue = 17;
    private const int MultiQueue = 22;
    private const int Rss = 60;

    /// <summary>The CreationAttributes names: New-VdpaDevice's parameters without the dash.</summary>
    private static string NameOf(VdpaProvisioningAttribute a) => a.Parameter.TrimStart('-');

    /// <summary>
    /// Fills a parent's destination properties from its host: the devices there (<paramref name="devices"/>, one DEV_GET
    /// dump), what its driver (<paramref name="parentKind"/>, <see cref="VdpaSysfs.GetParentKind"/>) sets at creation,
    /// whether the kernel takes a feature set, and, where the driver cannot set a net attribute, the value a device on it
    /// shows (<paramref name="configOf"/> reads one; null when it cannot).
    /// </summary>
    public static VdpaParent Describe(VdpaParent parent, string? parentKind, VdpaFamilyCapabilities family, IReadOnlyList<VdpaDevice> devices,
        Func<string, VdpaDeviceConfig?> configOf)
    {
        parent.HostDevices = [.. devices.Select(d => d.Name)];
        parent.Devices = [.. devices.Where(d => VdpaParentName.Same(d.Parent, parent.Name)).Select(d => d.Name)];
        var accepted = VdpaProvisioning.AcceptedBy(parentKind);
        parent.CreationAttributes = accepted?.Select(NameOf).ToArray();
        parent.FeatureProvisioning = family.Supports(VdpaCapability.DeviceFeatureProvisioning);
        var fixedNet = accepted is null || accepted.Count(a => a.Id is VdpaAttribute.NetConfigMacAddress or VdpaAttribute.NetConfigMtu
            or VdpaAttribute.NetConfigMaxQueuePairs) < 3;
        if (fixedNet && parent.Devices.Length > 0 && configOf(parent.Devices[0]) is VdpaNetDeviceConfig own)
        {
            parent.OwnMacAddress = own.MacAddress;
            parent.OwnMtu = own.Mtu;
            parent.OwnMaxQueuePairs = own.ShowsMaxQueuePairs ? own.MaxQueuePairs : null;
        }

        return parent;
    }

    /// <summary>Every reason the twin of <paramref name="source"/> cannot be made on <paramref name="destination"/>; empty when nothing known stands against it.</summary>
    public static VdpaMigrationCheck Check(VdpaTwinSource source, VdpaTwinDestination destination)
    {
        var parent = destination.Parent;
        var reasons = new List<VdpaMigrationReason>();
        void Add(VdpaMigrationReasonKind kind, string? item, string message) => reasons.Add(new() { Kind = kind, Item = item, Message = message });

        var where = destination.ToString();
        if (!parent.SupportedClasses.Contains(source.Class))
        {
            Add(VdpaMigrationReasonKind.ClassMismatch, null,
                $"Parent {where} creates {Classes(parent)} devices, and {source} is a {source.Class} device.");
        }
        else
        {
            CheckFeatures(source, destination, Add);
            CheckQueuePairs(source, destination, Add);
            CheckAttributes(source, destination, Add);
        }

        if (parent.HostDevices is not { } taken)
        {
            Add(VdpaMigrationReasonKind.Unknown, nameof(VdpaParent.HostDevices),
                $"Which devices are on the host of {where} is not known (the parent object does not say), so whether the name '{source.Name}' is free cannot be told.");
        }
        else if (taken.Contains(source.Name, StringComparer.Ordinal))
        {
            Add(VdpaMigrationReasonKind.NameTaken, null, $"A vDPA device named '{source.Name}' is already on the host of {where}.");
        }

        if (parent.PciDriver == VdpaSysfs.VirtioPciParentDriver)
        {
            if (parent.Devices is not { } onParent)
            {
                Add(VdpaMigrationReasonKind.Unknown, nameof(VdpaParent.Devices),
                    $"Parent {where} keeps one device ({parent.PciDriver}), and whether it has one is not known.");
            }
            else if (onParent.Length > 0)
            {
                Add(VdpaMigrationReasonKind.ParentOccupied, null,
                    $"Parent {where} already has vDPA device '{onParent[0]}', and its driver ({parent.PciDriver}) keeps one device per parent.");
            }
        }

        var features = source.FeatureMask;
        return new VdpaMigrationCheck
        {
            Name = source.Name,
            ComputerName = source.ComputerName,
            Parent = parent.Name,
            DestinationComputerName = destination.ComputerName,
            Type = source.Class,
            Reasons = [.. reasons],
            DeviceFeatures = features is { } f ? VirtioFeatures.GetNames(f, source.Class) : [],
            DeviceFeatureMask = features,
            MacAddress = source.MacAddress,
            Mtu = source.Mtu,
            MaxQueuePairs = source.Class == VirtioDeviceClass.Net ? source.MaxQueuePairs ?? 1 : null,
        };
    }

    private static void CheckFeatures(VdpaTwinSource source, VdpaTwinDestination destination, Action<VdpaMigrationReasonKind, string?, string> add)
    {
        var parent = destination.Parent;
        if (source.FeatureMask is not { } wanted)
        {
            add(VdpaMigrationReasonKind.Unknown, "DeviceFeatures",
                $"The features {source} offers are not known (its kernel does not report them: Linux 6.1 and later do), so the twin's cannot be chosen.");
            return;
        }

        if (parent.SupportedFeatureMask is not { } offered)
        {
            add(VdpaMigrationReasonKind.Unknown, nameof(VdpaParent.SupportedFeatureMask),
                $"The features parent {destination} can offer are not known (its kernel does not report them; Linux 5.19 added it).");
            return;
        }

        for (var bit = 0; bit < 64; bit++)
        {
            var mask = 1UL << bit;
            if ((wanted & mask) != 0 && (offered & mask) == 0)
            {
                var name = VirtioFeatures.GetNames(mask, source.Class)[0];
                add(VdpaMigrationReasonKind.FeatureMissing, name, $"{source} offers {name} (bit {bit}), which parent {destination} cannot offer.");
            }
        }

        // Created without a feature set, a device offers all of its parent's: only a set other than that needs DEV_FEATURES.
        if (wanted == offered)
        {
            return;
        }

        if (parent.FeatureProvisioning is not { } provisions)
        {
            add(VdpaMigrationReasonKind.Unknown, nameof(VdpaParent.FeatureProvisioning),
                $"Whether the kernel of {destination} creates a device with a chosen feature set is not known.");
        }
        else if (!provisions)
        {
            var info = VdpaKernelCatalog.FindAttribute(VdpaAttribute.DeviceFeatures)!;
            add(VdpaMigrationReasonKind.KernelCannotProvisionFeatures, null,
                $"The kernel of {destination} cannot create a device with a chosen feature set ({info.UapiName} came in Linux {info.AddedIn}), and " +
                $"{source} offers another set than the parent's own.");
        }
        else if (parent.CreationAttributes is { } accepted && !accepted.Contains("Feature"))
        {
            add(VdpaMigrationReasonKind.AttributeDiffers, "Feature",
                $"Parent {destination} cannot set the features at creation, so its device would offer 0x{offered:x}, and {source} offers 0x{wanted:x}.");
        }
    }

    private static void CheckQueuePairs(VdpaTwinSource source, VdpaTwinDestination destination, Action<VdpaMigrationReasonKind, string?, string> add)
    {
        if (source.Class != VirtioDeviceClass.Net || destination.Parent.MaxQueues is not { } most || most == 0)
        {
            return;
        }

        // Each pair is two virtqueues, and the control queue one more (mlx5 counts it in max_supported_vqs); 0 is no limit (VDUSE).
        var pairs = source.MaxQueuePairs ?? 1;
        var control = Has(source.FeatureMask, ControlQueue) ? 1 : 0;
        var needed = (2L * pairs) + control;
        if (needed > most)
        {
            add(VdpaMigrationReasonKind.QueuePairsAboveLimit, null,
                $"{source} has {pairs} queue pairs, which need {needed} virtqueues{(control == 1 ? " with the control queue" : string.Empty)}, " +
                $"and parent {destination} gives a device at most {most}.");
        }
    }

    private static void CheckAttributes(VdpaTwinSource source, VdpaTwinDestination destination, Action<VdpaMigrationReasonKind, string?, string> add)
    {
        var parent = destination.Parent;
        if (source.Class != VirtioDeviceClass.Net || source.FeatureMask is not { } features)
        {
            return;
        }

        if (parent.CreationAttributes is not { } accepted)
        {
            add(VdpaMigrationReasonKind.Unknown, nameof(VdpaParent.CreationAttributes),
                $"What the driver of parent {destination} sets at creation is not known, so whether its device would have the MAC, MTU and queue pairs of {source} cannot be told.");
            return;
        }

        // What the parent cannot set, its device has of the parent itself: shown only with the feature that carries it. A
        // parent without that feature is FeatureMissing already: its device shows no value to compare.
        var offered = parent.SupportedFeatureMask ?? ulong.MaxValue;
        void Compare(string attribute, bool shown, string? wanted, string? own, bool ignoreCase = false)
        {
            if (accepted.Contains(attribute) || !shown)
            {
                return;
            }

            if (own is null)
            {
                add(VdpaMigrationReasonKind.Unknown, attribute,
                    $"Parent {destination} cannot set the {attribute} at creation, and which one its device would have is not known (no device on it to read it from).");
            }
            else if (!string.Equals(wanted, own, ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
            {
                add(VdpaMigrationReasonKind.AttributeDiffers, attribute,
                    $"Parent {destination} cannot set the {attribute} at creation: its device would have {own}, and {source} has {wanted ?? "none"}.");
            }
        }

        var both = features & offered;
        Compare("MacAddress", Has(both, Mac), source.MacAddress, parent.OwnMacAddress, ignoreCase: true);
        Compare("Mtu", Has(both, Mtu), Text(source.Mtu), Text(parent.OwnMtu));
        Compare("MaxQueuePairs", Has(both, MultiQueue) || Has(both, Rss), Text(source.MaxQueuePairs ?? 1), Text(parent.OwnMaxQueuePairs));
    }

    /// <summary>
    /// The DEV_NEW of the twin: what the parent sets at creation, from the source; what it cannot set is left to it (the
    /// check made sure it is the same). The features go whenever the kernel takes them, so the read-back can compare them.
    /// </summary>
    public static VdpaDeviceSpec Spec(VdpaTwinSource source, VdpaTwinDestination destination)
    {
        var parent = destination.Parent;
        var accepted = parent.CreationAttributes ?? [];
        var features = source.FeatureMask;
        bool Sends(string attribute, bool shown) => accepted.Contains(attribute) && shown && source.Class == VirtioDeviceClass.Net;
        return new VdpaDeviceSpec
        {
            Name = source.Name,
            Parent = parent.Name,
            MacAddress = Sends("MacAddress", Has(features, Mac)) && source.MacAddress is { } mac ? VdpaText.ParseMacAddress(mac, out _) : null,
            Mtu = Sends("Mtu", Has(features, Mtu)) ? source.Mtu : null,
            MaxQueuePairs = Sends("MaxQueuePairs", Has(features, MultiQueue) || Has(features, Rss)) ? source.MaxQueuePairs : null,
            Features = parent.FeatureProvisioning == true && accepted.Contains("Feature") ? features : null,
        };
    }

    /// <summary>
    /// How the twin as read back (DEV_CONFIG_GET) differs from its source: features bit for bit, MAC, MTU, queue pairs.
    /// Empty when it is the source's twin.
    /// </summary>
    public static IReadOnlyList<string> Differences(VdpaTwinSource source, VdpaDeviceConfig twin)
    {
        var found = new List<string>();
        if (source.FeatureMask is { } wanted && twin.DeviceFeatureMask != wanted)
        {
            var got = twin.DeviceFeatureMask;
            found.Add(got is not { } g
                ? $"its features cannot be read back (this kernel does not report a device's features), and {source} offers 0x{wanted:x}"
                : $"it offers 0x{g:x}, {source} 0x{wanted:x}{Delta(wanted, g, source.Class)}");
        }

        // A MAC and an MTU are the device's only with their features (Linux 6.1 shows an MTU of 0 without it).
        if (twin is VdpaNetDeviceConfig net && source.Class == VirtioDeviceClass.Net)
        {
            if (Has(source.FeatureMask, Mac) && !string.Equals(net.MacAddress, source.MacAddress, StringComparison.OrdinalIgnoreCase))
            {
                found.Add($"its MAC address is {net.MacAddress ?? "none"}, {source}'s {source.MacAddress ?? "none"}");
            }

            if (Has(source.FeatureMask, Mtu) && net.Mtu != source.Mtu)
            {
                found.Add($"its MTU is {Text(net.Mtu) ?? "none"}, {source}'s {Text(source.Mtu) ?? "none"}");
            }

            if (net.MaxQueuePairs != (source.MaxQueuePairs ?? 1))
            {
                found.Add($"it has {net.MaxQueuePairs} queue pairs, {source} {source.MaxQueuePairs ?? 1}");
            }
        }

        return found;
    }

    /// <summary>The reasons as one sentence for an error ("FeatureMissing:MQ: ...; NameTaken: ...").</summary>
    public static string Describe(VdpaMigrationCheck check) =>
        $"The twin of '{check.Name}'{(check.ComputerName is null ? string.Empty : $" on {check.ComputerName}")} cannot be made on parent '{check.Parent}'" +
        $"{(check.DestinationComputerName is null ? string.Empty : $" on {check.DestinationComputerName}")}: " +
        string.Join(" ", check.Reasons.Select(r => $"[{r}] {r.Message}")) + " Nothing was sent.";

    private static string Delta(ulong wanted, ulong got, VirtioDeviceClass type)
    {
        var missing = VirtioFeatures.GetNames(wanted & ~got, type);
        var extra = VirtioFeatures.GetNames(got & ~wanted, type);
        return (missing.Length > 0 ? $"; it lacks {string.Join(", ", missing)}" : string.Empty) +
            (extra.Length > 0 ? $"; it adds {string.Join(", ", extra)}" : string.Empty);
    }

    private static bool Has(ulong? features, int bit) => features is { } f && (f & (1UL << bit)) != 0;

    private static string Classes(VdpaParent parent) =>
        parent.SupportedClasses.Length == 0 ? "no known class of" : string.Join(" and ", parent.SupportedClasses);

    private static string? Text(ushort? value) => value?.ToString(CultureInfo.InvariantCulture);
}

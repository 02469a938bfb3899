using System.Globalization;
using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Creates a vDPA device on a parent, and emits it as the kernel reads it back.</summary>
/// <remarks>
/// DEV_NEW is answered with a bare ACK, and kernels before an attribute existed accept and drop it, so what the
/// kernel applied is only known by reading the device back: every requested value is checked there.
/// </remarks>
[Cmdlet(VerbsCommon.New, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaDevice))]
public sealed class NewVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>The new device's name (a sysfs name: no '/', no spaces). Never bound from the pipeline, so a piped parent's Name cannot become it.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    /// <summary>The parent (management device) as Get-VdpaParent names it, in any case, or a bus parent's address alone (0000:03:00.2); bound from piped parents.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("ParentName")]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Parent { get; set; } = string.Empty;

    /// <summary>A unicast MAC address, 00:11:22:33:44:55 or 00-11-22-33-44-55 (net devices).</summary>
    [Parameter]
    [Alias("Mac")]
    public string? MacAddress { get; set; }

    /// <summary>MTU in bytes, 68 to 65535 (net devices).</summary>
    [Parameter]
    public int? Mtu { get; set; }

    /// <summary>Most queue pairs the device offers, 1 to 32768 (net devices; the parent must support it).</summary>
    [Parameter]
    public int? MaxQueuePairs { get; set; }

    /// <summary>Device features to offer: virtio names (MAC, MTU, VERSION_1...), bit_N, bit numbers or a hex mask (0x300010020); bound from a piped Get-VdpaCommonFeature result's Features.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("DeviceFeatures", "Features")]
    [ArgumentCompleter(typeof(FeatureNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Feature { get; set; }

    /// <summary>Bind the new device to this driver in the same step: vhost_vdpa (for VMs: /dev/vhost-vdpa-N), virtio_vdpa (a host netdev or disk), or None.</summary>
    [Parameter]
    [ValidateSet(VdpaSysfs.VhostDriver, VdpaSysfs.VirtioDriver, DriverNames.None, IgnoreCase = true)]
    public string? Driver { get; set; }

    protected override void ProcessRecord()
    {
        if (RefuseInput(VdpaText.CheckDeviceName(Name), VdpaErrors.InvalidName, Name) ||
            RefuseInput(VdpaText.CheckParentName(Parent), VdpaErrors.InvalidParentName, Parent))
        {
            return;
        }

        byte[]? mac = null;
        if (MacAddress is not null)
        {
            mac = VdpaText.ParseMacAddress(MacAddress, out var macError);
            if (RefuseInput(macError, VdpaErrors.InvalidMacAddress, MacAddress))
            {
                return;
            }
        }

        if (Mtu is { } mtu && RefuseInput(
                mtu is < VdpaFamily.MinMtu or > ushort.MaxValue ? $"An MTU of {mtu} is out of range: it must be {VdpaFamily.MinMtu} to {ushort.MaxValue}." : null,
                VdpaErrors.InvalidMtu, mtu))
        {
            return;
        }

        if (MaxQueuePairs is { } pairs && RefuseInput(
                pairs is < 1 or > VdpaFamily.MaxQueuePairs ? $"{pairs} queue pairs is out of range: a device has 1 to {VdpaFamily.MaxQueuePairs}." : null,
                VdpaErrors.InvalidQueuePairs, pairs))
        {
            return;
        }

        // The kernel matches a parent only by its exact name (bus/device when it has a bus): what the user typed
        // (any case, an address alone) is resolved to that name first. A name nothing matches goes as typed, so the
        // kernel's own answer (ENODEV) is what the user reads.
        var parent = ResolveParent(Parent);
        var parentName = parent?.Name ?? Parent;

        ulong? features = null;
        if (Feature is not null)
        {
            if (!TryParseFeatures(parent, out var mask))
            {
                return;
            }

            features = mask;
        }

        var spec = new VdpaDeviceSpec
        {
            Name = Name,
            Parent = parentName,
            MacAddress = mac,
            Mtu = (ushort?)Mtu,
            MaxQueuePairs = (ushort?)MaxQueuePairs,
            Features = features,
        };

        // Commands up to VSTATS_GET are parsed leniently: an attribute this kernel does not know would vanish without a word.
        var unknown = Client.UnknownAttributes(spec).ToHashSet();
        if (VdpaTestHooks.SimulatedAttributeLimit is { } limit)
        {
            unknown.UnionWith(spec.ProvisioningAttributes.Where(a => a >= limit));
        }

        foreach (var attribute in unknown.Order())
        {
            WriteWarning($"This kernel's vdpa family does not know {VdpaErrors.ParameterOf(attribute)} (attribute {attribute}, " +
                $"{VdpaAttribute.GetName(attribute)}): it will accept the request and ignore it.");
        }

        // What goes out: under the test hook, without the attributes an older kernel would drop.
        var sent = VdpaTestHooks.SimulatedAttributeLimit is null ? spec : new VdpaDeviceSpec
        {
            Name = spec.Name,
            Parent = spec.Parent,
            MacAddress = unknown.Contains(VdpaAttribute.NetConfigMacAddress) ? null : spec.MacAddress,
            Mtu = unknown.Contains(VdpaAttribute.NetConfigMtu) ? null : spec.Mtu,
            MaxQueuePairs = unknown.Contains(VdpaAttribute.NetConfigMaxQueuePairs) ? null : spec.MaxQueuePairs,
            Features = unknown.Contains(VdpaAttribute.DeviceFeatures) ? null : spec.Features,
        };

        if (!ShouldProcess($"vDPA device '{Name}' on parent '{parentName}'{Describe(spec, withNames: false)}", "Create"))
        {
            return;
        }

        if (parent is not null && !CheckParentHasRoom(parent))
        {
            return;
        }

        if (!TryRequest($"Creating vDPA device '{Name}' (DEV_NEW:{Describe(sent, withNames: true)}).", c => c.CreateDevice(sent), spec, VdpaTargetKind.Device, out var ack, parent))
        {
            return;
        }

        if (ack.Warning is not null)
        {
            WriteWarning($"The kernel created '{Name}' with a warning: {ack.Warning}");
        }

        if (!TryRequest($"Reading back vDPA device '{Name}' (DEV_GET).", c => c.GetDevice(Name), Name, VdpaTargetKind.Device, out var device))
        {
            return;
        }

        if (device.Type == VirtioDeviceClass.Block && features is not null && !Client.Capabilities.Has(VdpaCapability.BlockConfig))
        {
            WriteWarning($"Whether -Feature was applied to '{Name}' cannot be checked: {Client.Capabilities.Explain(VdpaCapability.BlockConfig)}");
        }
        else if (mac is not null || Mtu is not null || MaxQueuePairs is not null || features is not null)
        {
            if (TryRequest($"Reading back the configuration of '{Name}' (DEV_CONFIG_GET) to check what was applied.", c => c.GetConfig(Name), Name, VdpaTargetKind.Device, out var config))
            {
                ReportUnapplied(spec, config, device);
            }
        }

        // A loaded driver may already have claimed the device at creation; binding moves it where it was asked.
        if (Driver is not null && !TryBindDriver(Name, Driver))
        {
            return;
        }

        WriteObject(WithSysfs(device));
    }

    /// <summary>
    /// vp_vdpa keeps one device per parent but accepts a second DEV_NEW, which corrupts the parent: a second device is
    /// refused here, before anything is sent. False when this item failed.
    /// </summary>
    private bool CheckParentHasRoom(VdpaParent parent)
    {
        if (!VdpaSysfs.Default.KeepsOneDevice(parent))
        {
            return true;
        }

        WriteVerbose($"Parent '{parent.Name}' is driven by {VdpaSysfs.VirtioPciParentDriver}, which keeps one device per parent: checking for one (DEV_GET dump).");
        if (!TryRequest("Listing vDPA devices (DEV_GET dump).", c => c.GetDevices(), Name, VdpaTargetKind.Device, out var devices))
        {
            return false;
        }

        if (devices.FirstOrDefault(d => d.Parent == parent.Name) is { } existing)
        {
            WriteError(VdpaErrors.ParentFull(parent.Name, existing.Name, VdpaSysfs.VirtioPciParentDriver, Name));
            return false;
        }

        return true;
    }

    /// <summary>Feature names belong to a device class; the parent tells which (a multi-class parent: net when net attributes are given).</summary>
    private bool TryParseFeatures(VdpaParent? parent, out ulong mask)
    {
        mask = 0;
        var deviceClass = VirtioDeviceClass.Net;
        var needsClass = Feature!.Any(f => !f.Trim().StartsWith("0x", StringComparison.OrdinalIgnoreCase));
        if (needsClass)
        {
            if (parent is null)
            {
                WriteError(VdpaErrors.NotFound(VdpaTargetKind.Parent, Parent));
                return false;
            }

            var netAttributes = MacAddress is not null || Mtu is not null || MaxQueuePairs is not null;
            deviceClass = parent.SupportedClasses.Length == 1 ? parent.SupportedClasses[0]
                : netAttributes || parent.SupportedClasses.Length == 0 ? VirtioDeviceClass.Net
                : VirtioDeviceClass.Unknown;
        }

        try
        {
            mask = VirtioFeatures.ParseMask(Feature!, deviceClass);
            return true;
        }
        catch (ArgumentException e)
        {
            var hint = deviceClass == VirtioDeviceClass.Unknown
                ? $" Parent '{Parent}' creates several device classes, so only transport features can be named; give class features as a hex mask."
                : string.Empty;
            WriteError(VdpaErrors.InvalidInput(VdpaErrors.UnknownFeature, e.Message.Split(" (Parameter")[0] + hint, Feature));
            return false;
        }
    }

    private static string Describe(VdpaDeviceSpec spec, bool withNames)
    {
        var parts = new List<string>();
        if (withNames)
        {
            parts.Add($"DEV_NAME={spec.Name}");
            var (bus, device) = VdpaText.SplitParentName(spec.Parent);
            if (bus is not null)
            {
                parts.Add($"MGMTDEV_BUS_NAME={bus}");
            }

            parts.Add($"MGMTDEV_DEV_NAME={device}");
        }

        if (spec.MacAddress is { } mac)
        {
            parts.Add($"{(withNames ? "DEV_NET_CFG_MACADDR" : "MAC")}={VdpaText.FormatMacAddress(mac)}");
        }

        if (spec.Mtu is { } mtu)
        {
            parts.Add($"{(withNames ? "DEV_NET_CFG_MTU" : "MTU")}={mtu}");
        }

        if (spec.MaxQueuePairs is { } pairs)
        {
            parts.Add($"{(withNames ? "DEV_NET_CFG_MAX_VQP" : "max queue pairs")}={pairs}");
        }

        if (spec.Features is { } features)
        {
            parts.Add($"{(withNames ? "DEV_FEATURES" : "features")}=0x{features.ToString("x", CultureInfo.InvariantCulture)}");
        }

        return parts.Count == 0 ? string.Empty : (withNames ? " " : " with ") + string.Join(withNames ? " " : ", ", parts);
    }

    private const int VirtioNetFeatureMtu = 3;
    private const int VirtioNetFeatureMac = 5;

    /// <summary>Compares what was asked with what the device shows; each difference is a non-terminating VdpaAttributeNotApplied error.</summary>
    private void ReportUnapplied(VdpaDeviceSpec spec, VdpaDeviceConfig config, VdpaDevice device)
    {
        var net = config as VdpaNetDeviceConfig;
        void Check(bool asked, bool applied, string parameter, string requested, string? actual, int neededFeature = -1)
        {
            if (asked && !applied)
            {
                // 6.1 has no "Missing features" check: it creates the device without what -Feature leaves out.
                var why = neededFeature >= 0 && spec.Features is { } f && (f & (1UL << neededFeature)) == 0
                    ? $"-Feature lacks {VirtioFeatures.GetNames(1UL << neededFeature, VirtioDeviceClass.Net)[0]}, which the attribute needs, and this kernel created the device without it instead of refusing."
                    : "The kernel accepted the request without using the attribute (kernels before it existed ignore it).";
                WriteError(VdpaErrors.NotApplied(
                    $"vDPA device '{spec.Name}' was created, but {parameter} was not applied: {requested} was asked, the device has " +
                    $"{actual ?? "none"}. {why}",
                    device));
            }
        }

        if (spec.MacAddress is { } mac)
        {
            var asked = VdpaText.FormatMacAddress(mac);
            Check(true, string.Equals(net?.MacAddress, asked, StringComparison.OrdinalIgnoreCase), "-MacAddress", asked, net?.MacAddress, VirtioNetFeatureMac);
        }

        if (spec.Mtu is { } mtu)
        {
            Check(true, net?.Mtu == mtu, "-Mtu", mtu.ToString(CultureInfo.InvariantCulture), net?.Mtu?.ToString(CultureInfo.InvariantCulture), VirtioNetFeatureMtu);
        }

        if (spec.MaxQueuePairs is { } pairs)
        {
            // The kernel shows MAX_VQP only with MQ; without it the device has exactly one pair.
            var actual = net?.MaxQueuePairs ?? (net is null ? null : (ushort?)1);
            Check(true, actual == pairs, "-MaxQueuePairs", pairs.ToString(CultureInfo.InvariantCulture), actual?.ToString(CultureInfo.InvariantCulture));
        }

        if (spec.Features is { } features)
        {
            if (config.DeviceFeatureMask is not { } offered)
            {
                WriteWarning($"This kernel does not report device features, so whether -Feature was applied to '{spec.Name}' cannot be checked.");
            }
            else
            {
                Check(true, offered == features, "-Feature", $"0x{features:x}", $"0x{offered:x}");
            }
        }
    }
}

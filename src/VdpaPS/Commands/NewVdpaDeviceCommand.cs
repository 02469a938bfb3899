using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Creates vDPA devices on a parent, and emits each as the kernel reads it back.</summary>
/// <remarks>
/// DEV_NEW is answered with a bare ACK, and kernels before an attribute existed accept and drop it, so what the
/// kernel applied is only known by reading the device back: every requested value is checked there.
/// </remarks>
[Cmdlet(VerbsCommon.New, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaDevice))]
public sealed class NewVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>The new devices' names (sysfs names: no '/', no spaces), one device each. Never bound from the pipeline, so a piped parent's Name cannot become one.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

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
    [ValidateRange(VdpaFamily.MinMtu, ushort.MaxValue)]
    public int? Mtu { get; set; }

    /// <summary>Most queue pairs the device offers, 1 to 32768 (net devices; the parent must support it).</summary>
    [Parameter]
    [ValidateRange(1, VdpaFamily.MaxQueuePairs)]
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
        // Each name is its own device and its own error; the parent and the values are checked and resolved once for all.
        var names = Array.FindAll(Name, n => !RefuseInput(VdpaText.CheckDeviceName(n), VdpaErrors.InvalidName, n));
        if (names.Length == 0 || BuildSpec(out var parent) is not { } common)
        {
            return;
        }

        // Commands up to VSTATS_GET are parsed leniently: an attribute this kernel does not know would vanish without a word.
        foreach (var unknown in VdpaProvisioning.UnknownTo(Client.Capabilities, common))
        {
            WriteWarning(VdpaProvisioning.UnknownWarning(unknown));
        }

        foreach (var name in names)
        {
            Create(common with { Name = name }, parent);
        }
    }

    private void Create(VdpaDeviceSpec spec, VdpaParent? parent)
    {
        var sent = VdpaProvisioning.ForFamily(Client.Capabilities, spec);
        if (!ShouldProcess($"vDPA device '{spec.Name}' on parent '{spec.Parent}'{VdpaProvisioning.DescribeValues(spec)}", "Create") ||
            TryCreateDevice(spec, sent, parent) is not { } device)
        {
            return;
        }

        ReportUnapplied(spec, device, device);

        // A loaded driver may already have claimed the device at creation; binding moves it where it was asked. A failed
        // bind is this device's error, but the device exists (bound as before the attempt): it is emitted all the same.
        if (Driver is not null)
        {
            TryBindDriver(spec.Name, Driver);
        }

        WriteObject(WithSysfs(device));
    }

    /// <summary>What the parameters ask of every device (its Name still to be set), checked before anything reaches the kernel; null when an input was refused.</summary>
    private VdpaDeviceSpec? BuildSpec(out VdpaParent? parent)
    {
        parent = null;
        string? macError = null;
        var mac = MacAddress is null ? null : VdpaText.ParseMacAddress(MacAddress, out macError);
        if (RefuseInput(VdpaText.CheckParentName(Parent), VdpaErrors.InvalidParentName, Parent) ||
            RefuseInput(Name.Length > 1 && mac is not null ? "One MAC address cannot go to several devices: create them one at a time, each with its own." : null,
                VdpaErrors.InvalidMacAddress, MacAddress) ||
            RefuseInput(macError, VdpaErrors.InvalidMacAddress, MacAddress))
        {
            return null;
        }

        // The kernel matches a parent only by its exact name (bus/device when it has a bus): what the user typed
        // (any case, an address alone) is resolved to that name first. A name nothing matches goes as typed, so the
        // kernel's own answer (ENODEV) is what the user reads.
        parent = ResolveParent(Parent);
        ulong? features = null;
        if (Feature is not null)
        {
            if (!TryParseFeatures(parent, out var mask))
            {
                return null;
            }

            features = mask;
        }

        return new VdpaDeviceSpec
        {
            Name = string.Empty,
            Parent = parent?.Name ?? Parent,
            MacAddress = mac,
            Mtu = (ushort?)Mtu,
            MaxQueuePairs = (ushort?)MaxQueuePairs,
            Features = features,
        };
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
            deviceClass = VdpaProvisioning.FeatureClass(parent, netAttributes);
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
            WriteError(VdpaErrors.InvalidInput(VdpaErrors.UnknownFeature, VdpaText.ReasonOf(e) + hint, Feature));
            return false;
        }
    }
}

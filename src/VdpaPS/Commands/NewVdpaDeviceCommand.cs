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
/// A piped device configuration (Get-VdpaDeviceConfig, live or from another host) or Test-VdpaMigration result makes
/// the device's twin: checked against the parent before anything is sent (VdpaTwin.Check), and read back whole after.
/// </remarks>
[Cmdlet(VerbsCommon.New, "VdpaDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaDevice))]
public sealed class NewVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>The new devices' names (sysfs names: no '/', no spaces), one device each. From the pipeline only a piped device's (its twin's): a piped parent's Name is refused.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>The parent (management device) as Get-VdpaParent names it, in any case, or a bus parent's address alone (0000:03:00.2); bound from piped parents.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("ParentName")]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Parent { get; set; } = string.Empty;

    /// <summary>A unicast MAC address, 00:11:22:33:44:55 or 00-11-22-33-44-55 (net devices); bound from a piped device's configuration.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Mac")]
    [AllowNull]
    public string? MacAddress { get; set; }

    /// <summary>MTU in bytes, 68 to 65535 (net devices); bound from a piped device's configuration.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ShownNoMtuAsNull]
    [ValidateRangeOrNull(VdpaFamily.MinMtu, ushort.MaxValue)]
    [AllowNull]
    public int? Mtu { get; set; }

    /// <summary>Most queue pairs the device offers, 1 to 32768 (net devices; the parent must support it); bound from a piped device's configuration.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRangeOrNull(1, VdpaFamily.MaxQueuePairs)]
    [AllowNull]
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

    /// <summary>A piped device's offered features, bit for bit (Get-VdpaDeviceConfig, Test-VdpaMigration): their presence makes the new device that device's twin.</summary>
    /// <remarks>Hidden, because it comes from the pipeline, never typed: -Feature is the typed way to choose features.</remarks>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [AllowNull]
    public ulong? DeviceFeatureMask { get; set; }

    /// <summary>A piped device's class (its Type), for its twin.</summary>
    /// <remarks>Hidden, because a new device's class is its parent's: only a twin's check compares it.</remarks>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Type")]
    public VirtioDeviceClass? DeviceClass { get; set; }

    /// <summary>The host a piped device was read on (PSComputerName, or a Test-VdpaMigration result's ComputerName), for messages.</summary>
    /// <remarks>Hidden, because it only names the source in a twin's messages; nothing is typed there.</remarks>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("PSComputerName")]
    [AllowNull]
    [AllowEmptyString]
    public string? ComputerName { get; set; }

    // What the command line gave, as against what each piped object gives (PowerShell rebinds those per object).
    private HashSet<string> _typed = [];

    protected override void BeginProcessing()
    {
        _typed = [.. MyInvocation.BoundParameters.Keys];
        base.BeginProcessing();
    }

    protected override void ProcessRecord()
    {
        var twin = MyInvocation.BoundParameters.ContainsKey(nameof(DeviceFeatureMask));
        if (!twin && !_typed.Contains(nameof(Name)) &&
            RefuseInput($"'{string.Join(", ", Name)}' came from the piped object's Name, and only a piped device (its configuration, or a Test-VdpaMigration " +
                "result) names its twin: give the new device's name with -Name.", VdpaErrors.InvalidName, Name))
        {
            return;
        }

        if (twin)
        {
            CreateTwin();
            return;
        }

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

    /// <summary>
    /// The twin of the piped device on -Parent: refused before anything is sent when the parent cannot make it (each
    /// reason named), else created with what the parent sets at creation and read back whole (features bit for bit).
    /// </summary>
    private void CreateTwin()
    {
        if (Name.Length != 1 || RefuseInput(VdpaText.CheckDeviceName(Name[0]), VdpaErrors.InvalidName, Name[0]) ||
            RefuseInput(VdpaText.CheckParentName(Parent), VdpaErrors.InvalidParentName, Parent) ||
            ResolveParentOrWriteNotFound(Parent) is not { } parent)
        {
            return;
        }

        var macError = MacAddress is null ? null : (VdpaText.ParseMacAddress(MacAddress, out var e) is null ? e : null);
        if (RefuseInput(macError, VdpaErrors.InvalidMacAddress, MacAddress))
        {
            return;
        }

        var source = new VdpaTwinSource(Name[0], string.IsNullOrEmpty(ComputerName) ? null : ComputerName, DeviceClass ?? VirtioDeviceClass.Unknown,
            DeviceFeatureMask, MacAddress, (ushort?)Mtu, (ushort?)MaxQueuePairs);
        DescribeAsDestinations([parent]);
        var destination = new VdpaTwinDestination(parent, null);
        var check = VdpaTwin.Check(source, destination);
        if (!check.CanCreateTwin)
        {
            WriteError(VdpaErrors.TwinNotPossible(check));
            return;
        }

        var spec = VdpaTwin.Spec(source, destination);
        foreach (var unknown in VdpaProvisioning.UnknownTo(Client.Capabilities, spec))
        {
            WriteWarning(VdpaProvisioning.UnknownWarning(unknown));
        }

        Create(spec, parent, source);
    }

    private void Create(VdpaDeviceSpec spec, VdpaParent? parent, VdpaTwinSource? twinOf = null)
    {
        var sent = VdpaProvisioning.ForFamily(Client.Capabilities, spec);
        // The source's own name is not known when -Name was typed (it takes the piped Name's place): its host is.
        var of = twinOf is null ? string.Empty : $", the twin of the piped device{(twinOf.ComputerName is null ? string.Empty : $" from {twinOf.ComputerName}")},";
        if (!ShouldProcess($"vDPA device '{spec.Name}'{of} on parent '{spec.Parent}'{VdpaProvisioning.DescribeValues(spec)}", "Create") ||
            TryCreateDevice(spec, sent, parent) is not { } device)
        {
            return;
        }

        if (twinOf is null)
        {
            ReportUnapplied(spec, device, device);
        }
        else if (TryRequest($"Reading back the configuration of '{spec.Name}' (DEV_CONFIG_GET) to compare it with {twinOf}.", c => c.GetConfig(spec.Name),
                     spec.Name, VdpaTargetKind.Device, out var config) && VdpaTwin.Differences(twinOf, config) is { Count: > 0 } differences)
        {
            WriteError(VdpaErrors.TwinDiffers(spec.Name, twinOf.ToString(), differences));
        }

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

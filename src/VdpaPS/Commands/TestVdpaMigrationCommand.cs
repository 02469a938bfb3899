using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>
/// Whether each piped device's twin (same class, offered features, MAC, MTU, queue pairs: what a VM live-migrating to the
/// parent must find again) can be made on each destination parent, and each reason it cannot.
/// </summary>
/// <remarks>
/// Sources bind by property name: a device's configuration (Get-VdpaDeviceConfig, live or deserialized from another host)
/// carries all of it; a device of this host (Get-VdpaDevice, or a name) has its configuration read here. Destinations are
/// parents of this host (names or Get-VdpaParent objects, read again here) or of another host (deserialized parents,
/// which carry what their host had). The decision is the core's (VdpaTwin.Check); nothing is changed.
/// </remarks>
[Cmdlet(VerbsDiagnostic.Test, "VdpaMigration")]
[OutputType(typeof(VdpaMigrationCheck))]
public sealed class TestVdpaMigrationCommand : VdpaCmdlet
{
    private readonly List<VdpaTwinDestination> _destinations = [];

    /// <summary>The source device's name (a piped device's or configuration's Name), which its twin takes.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    /// <summary>The destination parents: names of this host's parents, or parent objects (Get-VdpaParent here, or deserialized from another host).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public object[] Parent { get; set; } = [];

    /// <summary>The source's device class (a piped device's Type).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("DeviceClass")]
    public VirtioDeviceClass? Type { get; set; }

    /// <summary>The features the source offers (a piped configuration's DeviceFeatureMask); its presence says the configuration came with the device.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public ulong? DeviceFeatureMask { get; set; }

    /// <summary>The source's MAC address (a piped configuration's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public string? MacAddress { get; set; }

    /// <summary>The source's MTU (a piped configuration's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public ushort? Mtu { get; set; }

    /// <summary>The source's queue pairs (a piped configuration's; 1 without MQ).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    public ushort? MaxQueuePairs { get; set; }

    /// <summary>The host the source was read on: the PSComputerName remoting adds. Empty for this host.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("PSComputerName")]
    [AllowNull]
    [AllowEmptyString]
    public string? ComputerName { get; set; }

    protected override void BeginProcessing()
    {
        var local = new List<VdpaParent>();
        foreach (var item in Parent)
        {
            var value = PSObject.AsPSObject(item);
            switch (value.BaseObject)
            {
                case string name:
                    if (ResolveParentOrWriteNotFound(name) is { } named)
                    {
                        local.Add(named);
                    }

                    break;
                case VdpaParent live:
                    // A parent of this host: what it has is read again now, not taken from when it was listed.
                    local.Add(live);
                    break;
                default:
                    if (FromDeserialized(value) is { } remote)
                    {
                        _destinations.Add(remote);
                    }

                    break;
            }
        }

        DescribeAsDestinations(local);
        _destinations.InsertRange(0, local.Select(p => new VdpaTwinDestination(p, null)));
    }

    protected override void ProcessRecord()
    {
        if (_destinations.Count == 0 || Source() is not { } source)
        {
            return;
        }

        foreach (var destination in _destinations)
        {
            WriteObject(VdpaTwin.Check(source, destination));
        }
    }

    /// <summary>The source as the record gives it; a device of this host without its configuration has it read here. Null after this item's error.</summary>
    private VdpaTwinSource? Source()
    {
        var host = string.IsNullOrEmpty(ComputerName) ? null : ComputerName;
        if (MyInvocation.BoundParameters.ContainsKey(nameof(DeviceFeatureMask)))
        {
            return new VdpaTwinSource(Name, host, Type ?? VirtioDeviceClass.Unknown, DeviceFeatureMask, string.IsNullOrEmpty(MacAddress) ? null : MacAddress,
                Mtu, MaxQueuePairs);
        }

        if (host is not null)
        {
            WriteError(VdpaErrors.TwinSourceIncomplete(Name, host));
            return null;
        }

        return AskOne($"Reading the configuration of vDPA device '{Name}' (DEV_CONFIG_GET): what its twin must offer.", c => c.GetConfig(Name), Name,
            VdpaTargetKind.Device) is { } config ? VdpaTwinSource.FromConfig(config, null) : null;
    }

    /// <summary>A parent from another host: a Deserialized.VdpaPS.VdpaParent, read by property name (as parameter binding would).</summary>
    private VdpaTwinDestination? FromDeserialized(PSObject value)
    {
        T? Get<T>(string property) => value.Properties[property]?.Value is { } v ? LanguagePrimitives.ConvertTo<T>(v) : default;
        var name = Get<string>(nameof(VdpaParent.Name));
        if (string.IsNullOrEmpty(name))
        {
            WriteError(VdpaErrors.InvalidInput(VdpaErrors.InvalidParentName, $"-Parent got an object that is no parent (no Name): {value}.", value.ToString()));
            return null;
        }

        var parent = new VdpaParent
        {
            Name = name,
            BusName = Get<string>(nameof(VdpaParent.BusName)),
            DeviceName = Get<string>(nameof(VdpaParent.DeviceName)) ?? name,
            SupportedClasses = Get<VirtioDeviceClass[]>(nameof(VdpaParent.SupportedClasses)) ?? [],
            SupportedClassMask = Get<ulong>(nameof(VdpaParent.SupportedClassMask)),
            MaxQueues = Get<uint?>(nameof(VdpaParent.MaxQueues)),
            SupportedFeatures = Get<string[]>(nameof(VdpaParent.SupportedFeatures)) ?? [],
            SupportedFeatureMask = Get<ulong?>(nameof(VdpaParent.SupportedFeatureMask)),
            PciDriver = Get<string>(nameof(VdpaParent.PciDriver)),
            PhysicalFunction = Get<string>(nameof(VdpaParent.PhysicalFunction)),
            Devices = Get<string[]>(nameof(VdpaParent.Devices)),
            HostDevices = Get<string[]>(nameof(VdpaParent.HostDevices)),
            CreationAttributes = Get<string[]>(nameof(VdpaParent.CreationAttributes)),
            FeatureProvisioning = Get<bool?>(nameof(VdpaParent.FeatureProvisioning)),
            OwnMacAddress = Get<string>(nameof(VdpaParent.OwnMacAddress)),
            OwnMtu = Get<ushort?>(nameof(VdpaParent.OwnMtu)),
            OwnMaxQueuePairs = Get<ushort?>(nameof(VdpaParent.OwnMaxQueuePairs)),
        };
        var host = Get<string>("PSComputerName");
        return new VdpaTwinDestination(parent, string.IsNullOrEmpty(host) ? null : host);
    }
}

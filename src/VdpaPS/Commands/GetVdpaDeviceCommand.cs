using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Lists vDPA devices, by name (wildcards allowed) and/or by parent.</summary>
[Cmdlet(VerbsCommon.Get, "VdpaDevice")]
[OutputType(typeof(VdpaDevice))]
public sealed class GetVdpaDeviceCommand : VdpaCmdlet
{
    /// <summary>Device names; wildcards allowed. Not bound from the pipeline: a piped parent's Name is not a device name.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Only devices of this parent (bus/device, or the device part alone); wildcards allowed. Bound from piped parents and devices.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ParentName")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Parent { get; set; }

    protected override void ProcessRecord()
    {
        WildcardPattern? parent = null;
        if (Parent is not null)
        {
            // A literal parent that does not exist is the user's mistake, not an empty answer.
            if (!WildcardPattern.ContainsWildcardCharacters(Parent) &&
                !TryRequest($"Checking that parent '{Parent}' exists (MGMTDEV_GET).", c => c.GetParent(Parent), Parent, VdpaTargetKind.Parent, out _))
            {
                return;
            }

            parent = new WildcardPattern(Parent, WildcardOptions.IgnoreCase);
        }

        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in ResolveDevices(Name))
        {
            listed.Add(device.Name);
            if (parent is null || parent.IsMatch(device.Parent) || parent.IsMatch(device.ParentDeviceName))
            {
                WriteObject(WithSysfs(device));
            }
        }

        // The dumps skip devices no management device created; sysfs still has them, and hiding them would mislead.
        if (parent is null && (Name is null || Array.Exists(Name, WildcardPattern.ContainsWildcardCharacters)))
        {
            var patterns = Name?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToArray();
            foreach (var name in VdpaSysfs.Default.GetDeviceNames())
            {
                if (!listed.Contains(name) && (patterns is null || Array.Exists(patterns, p => p.IsMatch(name))))
                {
                    WriteObject(WithSysfs(new VdpaDevice { Name = name, IsManaged = false }));
                }
            }
        }
    }
}

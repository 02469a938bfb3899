using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Netlink.Host;
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

    /// <summary>Only devices of this parent (bus/device in any case, or a bus parent's address alone); wildcards allowed. Bound from piped parents and devices.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ParentName")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Parent { get; set; }

    protected override void ProcessRecord()
    {
        WildcardPattern? parent = null;
        string? parentName = null;
        if (Parent is not null)
        {
            if (WildcardPattern.ContainsWildcardCharacters(Parent))
            {
                parent = NamePattern(Parent, VdpaTargetKind.Parent);
            }
            else
            {
                // A literal parent that does not exist is the user's mistake, not an empty answer.
                parentName = ResolveParentOrWriteNotFound(Parent)?.Name;
                if (parentName is null)
                {
                    return;
                }
            }
        }

        // What the devices of one parent share in sysfs is read once in this listing.
        var sysfs = VdpaSysfs.Default.StartListing();
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var device in ResolveDevices(Name))
        {
            listed.Add(device.Name);
            if (parentName is not null ? VdpaParentName.Same(device.Parent, parentName)
                : parent is null || VdpaParentName.AnySpelling(device.Parent, parent.IsMatch))
            {
                WriteObject(sysfs.Describe(device));
            }
        }

        // The dumps skip devices no management device created; sysfs still has them, and hiding them would mislead.
        if (Parent is null && (Name is null || Array.Exists(Name, WildcardPattern.ContainsWildcardCharacters)))
        {
            var patterns = Name?.Select(n => NamePattern(n, VdpaTargetKind.Device)).ToArray();
            foreach (var name in VdpaSysfs.Default.GetDeviceNames())
            {
                if (!listed.Contains(name) && (patterns is null || Array.Exists(patterns, p => p.IsMatch(name))))
                {
                    WriteObject(sysfs.Describe(new VdpaDevice { Name = name, IsManaged = false }));
                }
            }
        }
    }
}

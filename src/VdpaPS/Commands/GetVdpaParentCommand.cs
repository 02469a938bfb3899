using System.Management.Automation;

namespace VdpaPS.Commands;

/// <summary>Lists the management devices (parents) vDPA devices can be created on.</summary>
[Cmdlet(VerbsCommon.Get, "VdpaParent")]
[OutputType(typeof(VdpaParent))]
public sealed class GetVdpaParentCommand : VdpaCmdlet
{
    /// <summary>Parent names as iproute2 writes them (pci/0000:03:00.5, vdpasim_net), in any case, or a bus parent's address alone (0000:03:00.5); wildcards allowed.</summary>
    /// <remarks>Not bound from the pipeline: a piped device's Name is the device's, not its parent's (that binds to ParentName).</remarks>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>The parent of piped devices and parents (their ParentName or Parent property).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Parent")]
    [ValidateNotNullOrEmpty]
    public string? ParentName { get; set; }

    protected override void ProcessRecord()
    {
        var (parents, names) = ResolveParentNames(ParentName is null ? Name : [.. Name ?? [], ParentName]);
        // A wildcard also matches a bus parent's address alone (0000:00:1*).
        foreach (var parent in SelectByName(parents, p => p.Name, names, VdpaTargetKind.Parent, p => p.BusName is null ? null : p.DeviceName))
        {
            WriteObject(parent);
        }
    }
}

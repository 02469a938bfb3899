using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;

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
    /// <remarks>
    /// Hidden, because for a user it is -Name again: it exists only so that a piped device binds by its Parent rather than
    /// by its Name (the device's own name, which no parent has). -Name cannot take it: binding by property name would give
    /// -Name the device's Name first. Shown, it would offer two parameters for one thing.
    /// </remarks>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Parent")]
    [ValidateNotNullOrEmpty]
    public string? ParentName { get; set; }

    protected override void ProcessRecord()
    {
        // Two names for one parent (any case, an address alone) give it once, as the list filtered by them would.
        var written = new HashSet<string>(StringComparer.Ordinal);
        var parents = new List<VdpaParent>();
        foreach (var parent in ResolveParents(ParentName is null ? Name : [.. Name ?? [], ParentName]))
        {
            if (written.Add(parent.Name))
            {
                parents.Add(parent);
            }
        }

        // sysfs (DescribeAsDestinations reads it for each parent), then what a twin on each parent needs (its devices, what
        // its driver sets): read here, so a parent deserialized on another host carries it to Test-VdpaMigration.
        DescribeAsDestinations(parents);
        WriteObject(parents, enumerateCollection: true);
    }
}

using System.Management.Automation;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Commands;

/// <summary>Lists the management devices (parents) vDPA devices can be created on.</summary>
[Cmdlet(VerbsCommon.Get, "VdpaParent")]
[OutputType(typeof(VdpaParent))]
public sealed class GetVdpaParentCommand : VdpaCmdlet
{
    /// <summary>Parent names as iproute2 writes them (pci/0000:03:00.5, vdpasim_net); wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ParentName", "Parent")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<VdpaParent> parents;
        try
        {
            parents = Client.GetParents();
        }
        catch (NetlinkException e)
        {
            ThrowTerminatingError(VdpaErrors.FromNetlink(e, null, VdpaTargetKind.Parent));
            return;
        }

        foreach (var parent in SelectByName(parents, p => p.Name, Name, VdpaTargetKind.Parent))
        {
            WriteObject(parent);
        }
    }
}

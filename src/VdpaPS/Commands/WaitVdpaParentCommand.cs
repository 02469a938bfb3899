using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Waits until a parent (management device) is there: its module loaded, its PCI function bound, from the kernel's uevents.</summary>
[Cmdlet(VerbsLifecycle.Wait, "VdpaParent")]
[OutputType(typeof(VdpaParent))]
public sealed class WaitVdpaParentCommand : VdpaEventCmdlet
{
    /// <summary>The parent's name as Get-VdpaParent takes it: bus/device in any case, the device alone (vdpasim_net), or a bus parent's address alone.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(ParentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    protected override void ProcessRecord()
    {
        if (WildcardPattern.ContainsWildcardCharacters(Name))
        {
            RefuseInput($"'{Name}' has wildcard characters; a wait is for one parent, named as Get-VdpaParent names it.", VdpaErrors.InvalidParentName, Name);
            return;
        }

        VdpaParent? parent = null;
        bool Check()
        {
            parent = AskIfLoaded(client => client.FindParent(Name));
            if (parent is null)
            {
                WriteVerbose($"No parent '{Name}' yet.");
            }
            else
            {
                WriteVerbose($"Parent '{Name}' is the kernel's '{parent.Name}'.");
            }

            return parent is not null;
        }

        try
        {
            // A management device sends no uevent of its own: its module's add, or a driver binding its bus device, comes with it.
            if (!WaitUntil(Check, VdpaUevents.MayAddParent))
            {
                WriteError(VdpaErrors.WaitTimedOut(Unanswered is { } why
                    ? $"No vDPA parent (management device) '{Name}' appeared within {TimeoutSec} s: {why}."
                    : $"No vDPA parent (management device) '{Name}' appeared within {TimeoutSec} s.", Name));
                return;
            }
        }
        catch (NetlinkException e)
        {
            WriteNetlinkError(e, Name, VdpaTargetKind.Parent);
            return;
        }

        WriteObject(WithSysfs(parent!));
    }
}

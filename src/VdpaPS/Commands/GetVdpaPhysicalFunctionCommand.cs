using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;

namespace VdpaPS.Commands;

/// <summary>Lists the PCI physical functions that can make SR-IOV virtual functions, with their VFs and the vDPA parents and devices on them.</summary>
[Cmdlet(VerbsCommon.Get, "VdpaPhysicalFunction")]
[OutputType(typeof(VdpaPhysicalFunction))]
public sealed class GetVdpaPhysicalFunctionCommand : VdpaCmdlet
{
    /// <summary>PCI addresses of physical functions (0000:01:00.0, or 01:00.0 without the domain); wildcards allowed. Bound from piped objects' PciAddress (physical functions).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [Alias("PciAddress")]
    [ArgumentCompleter(typeof(PhysicalFunctionCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Address { get; set; }

    protected override void ProcessRecord()
    {
        if (Address is { Length: > 0 } && !Array.Exists(Address, WildcardPattern.ContainsWildcardCharacters))
        {
            foreach (var typed in Address)
            {
                if (ReadPhysicalFunction(typed) is { } pf)
                {
                    WriteObject(pf);
                }
            }

            return;
        }

        var patterns = (Address ?? []).Select(a => new WildcardPattern(a, WildcardOptions.IgnoreCase)).ToArray();
        var pfs = VdpaSriov.Default.GetPhysicalFunctions()
            .Where(p => patterns.Length == 0 || patterns.Any(w => w.IsMatch(p.PciAddress) || w.IsMatch(p.PciAddress[5..])))
            .ToList();
        WriteVerbose($"{pfs.Count} PCI functions with sriov_totalvfs match in /sys/bus/pci/devices.");
        foreach (var pf in WithVdpaState(pfs))
        {
            WriteObject(pf);
        }
    }
}

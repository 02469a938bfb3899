using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>
/// Sets how many SR-IOV virtual functions a physical function has and binds them to a vDPA-capable PCI driver (vp-vdpa,
/// mlx5_core, ifcvf ...), then waits until each VF is a vDPA parent.
/// </summary>
/// <remarks>
/// A change from one non-zero count to another goes through 0, as the kernel demands. VFs that go or are rebound take their
/// vDPA devices with them: refused while any has one, unless -Force, which removes them first when nothing uses them.
/// A failed step puts back what was.
/// </remarks>
[Cmdlet(VerbsCommon.Set, "VdpaPhysicalFunction", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VdpaPhysicalFunction))]
public sealed class SetVdpaPhysicalFunctionCommand : VdpaCmdlet
{
    /// <summary>The PF's PCI address (0000:01:00.0, or 01:00.0); bound from piped physical functions by their PciAddress.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PciAddress")]
    [ArgumentCompleter(typeof(PhysicalFunctionCompleter))]
    [ValidateNotNullOrEmpty]
    public string Address { get; set; } = string.Empty;

    /// <summary>How many VFs the PF should have: 0 removes them all; at most its TotalVfs.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateRange(0, ushort.MaxValue)]
    public int VfCount { get; set; }

    /// <summary>The PCI driver every VF is bound to (vp-vdpa, mlx5_core, ifcvf, octep_vdpa, pds_vdpa); the command then waits until each VF is a vDPA parent. Without it the VFs go to whatever driver probes them.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(PciDriverCompleter))]
    [ValidateNotNullOrEmpty]
    public string? VfDriver { get; set; }

    /// <summary>Remove the vDPA devices on VFs that go or are rebound, when nothing uses them (a device in use is still refused).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Seconds to wait for the VFs to become vDPA parents (30 by default); when the time is up the PF is put back as it was.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 30;

    /// <summary>Emit the physical function as it is afterwards.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ReadPhysicalFunction(Address) is { } pf && TrySetPhysicalFunction(pf, VfCount, VfDriver, Force, TimeoutSec) == true &&
            PassThru && ReadPhysicalFunction(pf.PciAddress) is { } after)
        {
            WriteObject(after);
        }
    }
}

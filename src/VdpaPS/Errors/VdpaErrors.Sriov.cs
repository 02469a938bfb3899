using System.Management.Automation;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string PhysicalFunctionNotFound = "VdpaPhysicalFunctionNotFound";
    public const string PhysicalFunctionNotReady = "VdpaPhysicalFunctionNotReady";
    public const string VfCountOutOfRange = "VdpaVfCountOutOfRange";
    public const string PhysicalFunctionHasDevices = "VdpaPhysicalFunctionHasDevices";
    public const string VfNotParent = "VdpaVfNotParent";
    public const string InvalidPciAddress = "InvalidPciAddress";

    /// <summary>An address that is no PCI function able to make VFs (no sriov_totalvfs).</summary>
    public static ErrorRecord PhysicalFunctionMissing(string address) =>
        new(new ItemNotFoundException($"No PCI physical function that can make SR-IOV VFs at '{address}' (no /sys/bus/pci/devices/{address}/sriov_totalvfs)."),
            PhysicalFunctionNotFound, ErrorCategory.ObjectNotFound, address);

    /// <summary>A count over the PF's total, refused before anything changed (the PF has VFs the change would first take away).</summary>
    public static ErrorRecord VfCountOverTotal(VdpaPhysicalFunction pf, int count) =>
        new(new ArgumentOutOfRangeException(nameof(count), count,
                $"{pf.PciAddress} can make at most {pf.TotalVfs} VFs (/sys/bus/pci/devices/{pf.PciAddress}/sriov_totalvfs), not {count}; nothing was changed " +
                "(the kernel refuses a count over the total with ERANGE)."),
            VfCountOutOfRange, ErrorCategory.InvalidArgument, pf);

    /// <summary>VFs that would go or be rebound while vDPA devices sit on them: refused, each device named.</summary>
    public static ErrorRecord HasDevices(VdpaPhysicalFunction pf, string change, IEnumerable<VdpaVirtualFunction> vfs)
    {
        var held = string.Join("; ", vfs.Select(v => $"{v.PciAddress}: {string.Join(", ", v.Devices)}"));
        var message = $"{pf.PciAddress} was not {change}: vDPA devices sit on its VFs ({held}), and taking a VF away removes its devices; nothing was changed.";
        return new(new InvalidOperationException(message), PhysicalFunctionHasDevices, ErrorCategory.ResourceBusy, pf)
        {
            ErrorDetails = new ErrorDetails(message)
            {
                RecommendedAction = "Remove the devices first (Remove-VdpaDevice), or add -Force, which removes them when nothing uses them.",
            },
        };
    }

    /// <summary>VFs bound to the driver that did not become vDPA parents in time: put back as they were.</summary>
    public static ErrorRecord VfsNotParents(VdpaPhysicalFunction pf, string driver, IEnumerable<string> vfs, int seconds, string putBack) =>
        new(new TimeoutException(
                $"VFs {string.Join(", ", vfs)} of {pf.PciAddress}, bound to {driver}, did not become vDPA parents within {seconds} s " +
                $"(is {driver} a vDPA driver?). {putBack}"),
            VfNotParent, ErrorCategory.OperationTimeout, pf);
}

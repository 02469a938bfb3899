using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

internal static partial class VdpaErrors
{
    public const string DeviceInUse = "VdpaDeviceInUse";

    /// <summary>A device refused before anything was sent, because something uses it: each user named.</summary>
    /// <param name="action">What was not done, as a past participle: "removed", "unbound from vhost_vdpa".</param>
    public static ErrorRecord InUse(VdpaDevice device, string action, VdpaDeviceUsageReport usage)
    {
        var also = usage.UninspectedNote is { } note ? $" ({note}, so there may be more)" : string.Empty;
        var exception = new VdpaDeviceInUseException(
            $"vDPA device '{device.Name}' is in use, so it was not {action}; nothing was sent to the kernel: " +
            $"{string.Join("; ", usage.Users.Select(u => u.Description))}{also}.", usage);
        return new ErrorRecord(exception, DeviceInUse, ErrorCategory.ResourceBusy, device)
        {
            ErrorDetails = new ErrorDetails(exception.Message)
            {
                RecommendedAction = "Stop what uses it first (shut the VM down, unmount the filesystem, close the program), or add -Force: " +
                    "the command then waits until every holder has closed the device.",
            },
        };
    }
}

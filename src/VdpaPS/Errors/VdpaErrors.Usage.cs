using System.Management.Automation;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string DeviceInUse = "VdpaDeviceInUse";

    public const string DeviceUsageUnknown = "VdpaDeviceUsageUnknown";

    /// <summary>A device refused before anything was sent, because something uses it: each user named.</summary>
    /// <param name="action">What was not done, as a past participle: "removed", "unbound from vhost_vdpa".</param>
    public static ErrorRecord InUse(VdpaDevice device, string action, VdpaDeviceUsageReport usage)
    {
        var also = usage.UncertainNote is { } note ? $" (and it could not look at everything, so there may be more: {note})" : string.Empty;
        return UsageError(DeviceInUse,
            $"vDPA device '{device.Name}' is in use, so it was not {action}; nothing was sent to the kernel: " +
            $"{string.Join("; ", usage.Users.Select(u => u.Description))}{also}.",
            "Stop what uses it first (shut the VM down, unmount the filesystem, close the program), or add -Force: " +
            "the command then waits until every holder has closed the device.",
            device, usage);
    }

    /// <summary>A device refused because the check could not be sure nothing uses it: what it could not look at, and why.</summary>
    public static ErrorRecord UsageUnknown(VdpaDevice device, string action, VdpaDeviceUsageReport usage) =>
        UsageError(DeviceUsageUnknown,
            $"vDPA device '{device.Name}' was not {action}: the check for its users could not be sure that nothing uses it, so it counts " +
            $"as in use; nothing was sent to the kernel: {usage.UncertainNote}.",
            "Run the command as root, which can look at every process and open the disk, or add -Force if you know nothing uses the " +
            "device: the command then waits until any holder has closed it.",
            device, usage);

    private static ErrorRecord UsageError(string id, string message, string recommended, VdpaDevice device, VdpaDeviceUsageReport usage)
    {
        var exception = new VdpaDeviceInUseException(message, usage);
        return new ErrorRecord(exception, id, ErrorCategory.ResourceBusy, device)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = recommended },
        };
    }
}

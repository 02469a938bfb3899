using System.Management.Automation;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string DriverNotLoaded = "VdpaDriverNotLoaded";
    public const string SysfsWriteFailed = "VdpaSysfsWriteFailed";
    public const string BindNotEffective = "VdpaBindNotEffective";

    /// <summary>A driver-binding step that failed, with the sysfs path and the kernel's answer in the message.</summary>
    public static ErrorRecord FromSysfs(VdpaSysfsException e, ErrorTarget target)
    {
        var (id, category) = e.Failure switch
        {
            VdpaSysfsFailure.DeviceNotFound => (DeviceNotFound, ErrorCategory.ObjectNotFound),
            VdpaSysfsFailure.DriverNotLoaded => (DriverNotLoaded, ErrorCategory.NotInstalled),
            VdpaSysfsFailure.PermissionDenied => (PermissionDenied, ErrorCategory.PermissionDenied),
            VdpaSysfsFailure.BindNotEffective => (BindNotEffective, ErrorCategory.InvalidResult),
            VdpaSysfsFailure.PhysicalFunctionNotReady => (PhysicalFunctionNotReady, ErrorCategory.ResourceBusy),
            VdpaSysfsFailure.VfCountOutOfRange => (VfCountOutOfRange, ErrorCategory.InvalidArgument),
            _ => (SysfsWriteFailed, ErrorCategory.WriteError),
        };
        return new ErrorRecord(e, id, category, target.Value);
    }
}

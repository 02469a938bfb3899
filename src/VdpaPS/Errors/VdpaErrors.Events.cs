using System.Management.Automation;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string WaitTimeout = "VdpaWaitTimeout";
    public const string EventsUnavailable = "VdpaEventsUnavailable";

    /// <summary>A wait whose -TimeoutSec passed before the state was reached: says what was waited for and what was seen last.</summary>
    public static ErrorRecord WaitTimedOut(string message, ErrorTarget target) =>
        new(new TimeoutException(message), WaitTimeout, ErrorCategory.OperationTimeout, target.Value)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = "Give a longer -TimeoutSec, or check what should have made the change." },
        };

    /// <summary>
    /// The kernel's uevents cannot be subscribed to or read: nothing can be waited for or watched. Only a process outside the
    /// initial network namespace is told that uevents of the host's devices do not reach it; any other failure is said as it is.
    /// </summary>
    public static ErrorRecord SubscribeFailed(NetlinkException e) => SubscribeFailed(e, new VdpaKernelSupport().OtherNetworkNamespace());

    public static ErrorRecord SubscribeFailed(NetlinkException e, string? otherNamespace)
    {
        var reason = e.Message.TrimEnd('.');
        var (message, action) = string.IsNullOrEmpty(otherNamespace)
            ? ($"The kernel's device events (NETLINK_KOBJECT_UEVENT) cannot be received: {reason}.", (string?)null)
            : ($"The kernel's device events (NETLINK_KOBJECT_UEVENT) cannot be received: {reason}. The host's devices' events reach only the initial " +
               $"network namespace, and {otherNamespace}.", "Run the command on the host, not inside a container's network namespace.");
        return new ErrorRecord(e, EventsUnavailable, ErrorCategory.ResourceUnavailable, null)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = action },
        };
    }
}

using System.Management.Automation;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS;

internal static partial class VdpaErrors
{
    public const string WaitTimeout = "VdpaWaitTimeout";
    public const string EventsUnavailable = "VdpaEventsUnavailable";

    /// <summary>A wait whose -TimeoutSec passed before the state was reached: says what was waited for and what was seen last.</summary>
    public static ErrorRecord WaitTimedOut(string message, object? target) =>
        new(new TimeoutException(message), WaitTimeout, ErrorCategory.OperationTimeout, target)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = "Give a longer -TimeoutSec, or check what should have made the change." },
        };

    /// <summary>The kernel's uevents cannot be subscribed to: nothing can be waited for or watched.</summary>
    public static ErrorRecord SubscribeFailed(NetlinkException e) =>
        new(e, EventsUnavailable, ErrorCategory.ResourceUnavailable, null)
        {
            ErrorDetails = new ErrorDetails(
                $"The kernel's device events (NETLINK_KOBJECT_UEVENT) cannot be received: {e.Message}. They reach only the initial network namespace.")
            {
                RecommendedAction = "Run the command on the host, not inside a container's network namespace.",
            },
        };
}

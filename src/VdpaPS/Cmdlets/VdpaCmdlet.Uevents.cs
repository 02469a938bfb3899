using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Cmdlets;

/// <summary>The one uevent wait loop: Wait-VdpaDevice, Wait-VdpaParent and Sync-VdpaConfiguration's wait for parents use it.</summary>
public abstract partial class VdpaCmdlet
{
    /// <summary>Subscribes to the kernel's uevents; without them nothing can wait, so a failure ends the command.</summary>
    private protected UeventMonitor Subscribe()
    {
        try
        {
            WriteVerbose("Subscribing to the kernel's uevents (NETLINK_KOBJECT_UEVENT, group 1).");
            return UeventMonitor.Open();
        }
        catch (NetlinkException e)
        {
            ThrowTerminatingError(VdpaErrors.SubscribeFailed(e));
            throw; // not reached: ThrowTerminatingError throws
        }
    }

    /// <summary>Waits for uevents at most <paramref name="remaining"/> (null: no limit); Ctrl+C stops the pipeline. Null when the time is up.</summary>
    private protected UeventBatch? ReceiveEvents(UeventMonitor monitor, TimeSpan? remaining)
    {
        try
        {
            return remaining == TimeSpan.Zero ? null : monitor.Receive(remaining, StopToken);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (NetlinkException e)
        {
            ThrowTerminatingError(VdpaErrors.SubscribeFailed(e));
            throw; // not reached
        }
    }

    /// <summary>
    /// Subscribes, then checks, then waits: a change between the check and the subscription cannot be missed, because events
    /// after the subscription are kept for the next receive. Every relevant event (or lost events) brings a new check. No
    /// polling: the thread sleeps in poll() until the kernel sends an event.
    /// </summary>
    /// <param name="remaining">The time left, asked before each receive; null for no limit, zero when it is up.</param>
    /// <returns>True when <paramref name="check"/> said done; false when the time was up first.</returns>
    private protected bool WaitForUevents(Func<bool> check, Func<Uevent, bool> relevant, Func<TimeSpan?> remaining)
    {
        using var monitor = Subscribe();
        while (!check())
        {
            while (true)
            {
                var batch = ReceiveEvents(monitor, remaining());
                if (batch is null)
                {
                    return false;
                }

                if (batch.Overrun)
                {
                    WriteVerbose("The kernel dropped events (the socket's buffer was full); checking again.");
                    break;
                }

                if (batch.Events.FirstOrDefault(relevant) is { } uevent)
                {
                    WriteVerbose($"Uevent {uevent} ({uevent.Subsystem}); checking again.");
                    break;
                }
            }
        }

        return true;
    }
}

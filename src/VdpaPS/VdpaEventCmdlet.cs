using System.Diagnostics;
using System.Management.Automation;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

/// <summary>
/// What the Wait and Watch cmdlets share: a subscription to the kernel's uevents, Ctrl+C (StopProcessing) ending a wait at
/// once, and a -TimeoutSec deadline. No polling: the thread sleeps in poll() until the kernel sends an event.
/// </summary>
public abstract class VdpaEventCmdlet : VdpaCmdlet
{
    /// <summary>Seconds to wait at most; without it the command waits until the change or Ctrl+C.</summary>
    [Parameter]
    [Alias("Timeout")]
    [ValidateRange(0, int.MaxValue)]
    public int? TimeoutSec { get; set; }

    /// <summary>Subscribes to the kernel's uevents; without them nothing can run, so a failure ends the command.</summary>
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

    /// <summary>The deadline of -TimeoutSec, measured from now; null without one.</summary>
    private protected Stopwatch? StartDeadline() => TimeoutSec is null ? null : Stopwatch.StartNew();

    private protected TimeSpan? Remaining(Stopwatch? started) =>
        started is null ? null : TimeSpan.FromSeconds(TimeoutSec!.Value) - started.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>
    /// Waits for uevents; Ctrl+C stops the pipeline. Null when the deadline passed first.
    /// </summary>
    private protected UeventBatch? ReceiveEvents(UeventMonitor monitor, Stopwatch? started)
    {
        try
        {
            var remaining = Remaining(started);
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
    /// after the subscription are kept for the next receive. Every relevant event (or lost events) brings a new check.
    /// </summary>
    /// <returns>True when <paramref name="check"/> said done; false when the deadline passed first.</returns>
    private protected bool WaitUntil(Func<bool> check, Func<Uevent, bool> relevant)
    {
        using var monitor = Subscribe();
        var started = StartDeadline();
        while (!check())
        {
            while (true)
            {
                var batch = ReceiveEvents(monitor, started);
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

    /// <summary>
    /// Asks the kernel with a client of its own, or returns the default when the vdpa module is not loaded (yet): a wait
    /// may start before the module loads. A kernel without vDPA, or a namespace that cannot see it, ends the command.
    /// </summary>
    private protected T? AskIfLoaded<T>(Func<VdpaClient, T?> ask)
    {
        VdpaClient client;
        try
        {
            client = VdpaClient.Open(cancellation: StopToken);
        }
        catch (FamilyNotFoundException e)
        {
            var diagnosis = new VdpaKernelSupport().Diagnose();
            if (diagnosis.Reason != VdpaAbsence.NotLoaded)
            {
                ThrowTerminatingError(VdpaErrors.FamilyMissing(e, diagnosis));
            }

            WriteVerbose($"The vdpa module is not loaded ({diagnosis.Evidence}); waiting for it.");
            return default;
        }

        using (client)
        {
            if (VerboseEnabled)
            {
                client.Connection.Trace += WriteVerbose;
            }

            return ask(client);
        }
    }
}

using System.Diagnostics;
using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

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

    /// <summary>The deadline of -TimeoutSec, measured from now; null without one.</summary>
    private protected Stopwatch? StartDeadline() => TimeoutSec is null ? null : Stopwatch.StartNew();

    private protected TimeSpan? Remaining(Stopwatch? started) =>
        started is null ? null : TimeSpan.FromSeconds(TimeoutSec!.Value) - started.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>Waits for uevents until the -TimeoutSec deadline; null when it passed first.</summary>
    private protected UeventBatch? ReceiveEvents(UeventMonitor monitor, Stopwatch? started) => ReceiveEvents(monitor, Remaining(started));

    /// <summary>
    /// Subscribes, then checks, then waits for a relevant uevent and checks again (<see cref="VdpaCmdlet.WaitForUevents"/>), until
    /// -TimeoutSec. A request the kernel has not answered by then ends the wait as timed out too.
    /// </summary>
    /// <returns>True when <paramref name="check"/> said done; false when the deadline passed first.</returns>
    private protected bool WaitUntil(Func<bool> check, Func<Uevent, bool> relevant)
    {
        var started = _started = StartDeadline();
        var pastDeadline = false;
        bool CheckInTime()
        {
            try
            {
                return check();
            }
            catch (RequestPastDeadline)
            {
                pastDeadline = true;
                return true;
            }
        }

        return WaitForUevents(CheckInTime, relevant, () => Remaining(started)) && !pastDeadline;
    }

    /// <summary>
    /// Asks the kernel with a client of its own, or returns the default when the vdpa module is not loaded (yet): a wait
    /// may start before the module loads. A kernel without vDPA, or a namespace that cannot see it, ends the command.
    /// </summary>
    private protected T? AskIfLoaded<T>(Func<VdpaClient, T?> ask)
    {
        // A request the kernel holds (vdpa's lock, behind a VDUSE device without its daemon) ends with -TimeoutSec too.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(StopToken);
        if (Remaining(_started) is { } remaining)
        {
            deadline.CancelAfter(remaining);
        }

        VdpaClient client;
        try
        {
            client = VdpaClient.Open(cancellation: deadline.Token);
        }
        catch (OperationCanceledException) when (!StopToken.IsCancellationRequested)
        {
            throw PastDeadline("nlctrl GETFAMILY");
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
            Listen(client);
            try
            {
                return ask(client);
            }
            catch (NetlinkRequestCanceledException e) when (!StopToken.IsCancellationRequested)
            {
                throw PastDeadline(e.Request.Operation, e);
            }
        }
    }

    // The -TimeoutSec clock of the wait in progress.
    private Stopwatch? _started;

    /// <summary>Why the last wait ran out while a request was still unanswered (the request, and who may hold it up); null otherwise.</summary>
    private protected string? Unanswered { get; private set; }

    private RequestPastDeadline PastDeadline(string operation, NetlinkRequestCanceledException? stopped = null)
    {
        Unanswered = $"the kernel had not answered {operation} when the time was up: {VdpaLockHolders.Default.Describe(stopped)}";
        return new RequestPastDeadline();
    }

    /// <summary>A request cut short by -TimeoutSec: the wait ends as timed out.</summary>
    private sealed class RequestPastDeadline : Exception
    {
    }
}

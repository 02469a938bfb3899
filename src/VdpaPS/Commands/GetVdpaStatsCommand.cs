using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Per-queue vendor statistics of vDPA devices: one queue, or every queue of each device.</summary>
/// <remarks>
/// The kernel answers one queue per request (DEV_VSTATS_GET has no dump), so all queues means 0..MaxQueues-1 from
/// DEV_GET. It needs CAP_NET_ADMIN, and a driver that has negotiated features with the device.
/// </remarks>
[Cmdlet(VerbsCommon.Get, "VdpaStats")]
[OutputType(typeof(VdpaQueueStatistics))]
public sealed class GetVdpaStatsCommand : VdpaCmdlet
{
    /// <summary>Device names; wildcards allowed. Bound from piped devices by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>One queue (0 is the first rx queue of a net device); every queue when left out.</summary>
    [Parameter(Position = 1)]
    [Alias("Queue")]
    // long, so that -1 is refused by the range as 40000 is (a uint parameter would refuse it as not a number).
    [ValidateRange(0L, (long)VdpaFamily.MaxQueueIndex)]
    public long? QueueIndex { get; set; }

    protected override void ProcessRecord()
    {
        if (QueueIndex is { } index)
        {
            // Literal names need no DEV_GET first: the statistics request itself says when a device is missing.
            if (!Array.Exists(Name, WildcardPattern.ContainsWildcardCharacters))
            {
                foreach (var name in Name)
                {
                    WriteQueue(name, (uint)index);
                }

                return;
            }
        }

        foreach (var device in ResolveDevices(Name))
        {
            if (QueueIndex is { } one)
            {
                WriteQueue(device.Name, (uint)one);
                continue;
            }

            for (uint queue = 0; queue < device.MaxQueues; queue++)
            {
                // What stops one queue (no negotiation yet, no permission, no statistics in the driver) stops them all:
                // one error per device, not one per queue.
                if (!WriteQueue(device.Name, queue))
                {
                    break;
                }
            }
        }
    }

    private bool WriteQueue(string device, uint queue)
    {
        if (!TryRequest($"Reading statistics of queue {queue} of vDPA device '{device}' (DEV_VSTATS_GET DEV_NAME={device} DEV_QUEUE_INDEX={queue}).",
                c => c.GetQueueStatistics(device, queue), ErrorTarget.Of(new VdpaQueueTarget(device, queue)), VdpaTargetKind.Device, out var statistics))
        {
            return false;
        }

        WriteVerbose($"Queue {queue} of '{device}' is {statistics.QueueType.ToString().ToLowerInvariant()} ({statistics.QueuePairs} queue pair(s)); " +
            $"{statistics.Counters.Length} counter(s).");
        WriteObject(statistics);
        return true;
    }
}

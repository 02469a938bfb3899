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
    public long? QueueIndex { get; set; }

    protected override void ProcessRecord()
    {
        if (QueueIndex is { } index)
        {
            if (RefuseInput(
                    index is < 0 or > VdpaFamily.MaxQueueIndex ? $"Queue index {index} is out of range: the kernel takes 0 to {VdpaFamily.MaxQueueIndex}." : null,
                    VdpaErrors.InvalidQueueIndex, index))
            {
                return;
            }

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
                c => c.GetQueueStatistics(device, queue), new VdpaQueueTarget(device, queue), VdpaTargetKind.Device, out var statistics))
        {
            return false;
        }

        WriteVerbose($"Queue {queue} of '{device}' is {statistics.QueueType.ToString().ToLowerInvariant()} ({statistics.QueuePairs} queue pair(s)); " +
            $"{statistics.Counters.Length} counter(s).");
        WriteObject(statistics);
        return true;
    }
}

using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>Writes an event object for each vDPA device added, removed, bound or unbound, as it happens, until Ctrl+C, -TimeoutSec or -Count.</summary>
[Cmdlet(VerbsCommon.Watch, "VdpaDevice")]
[OutputType(typeof(VdpaDeviceEvent))]
public sealed class WatchVdpaDeviceCommand : VdpaEventCmdlet
{
    private readonly List<string> _names = [];

    /// <summary>Only devices with these names; wildcards allowed. Every device without it.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Stop after this many events.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Count { get; set; }

    /// <summary>Piped names are gathered: the watch is one stream, started when the input ends.</summary>
    protected override void ProcessRecord() => _names.AddRange(Name ?? []);

    protected override void EndProcessing()
    {
        var patterns = _names.Select(n => NamePattern(n, VdpaTargetKind.Device)).ToArray();
        using var monitor = Subscribe();
        var started = StartDeadline();
        // The drivers bound now, so an unbind of a device bound before the watch still names its driver.
        var sysfs = VdpaSysfs.Default;
        var tracker = new VdpaDeviceEventTracker(sysfs.GetDeviceNames().Select(n => new KeyValuePair<string, string?>(n, SafeDriver(sysfs, n))));
        var written = 0;
        WriteVerbose($"Watching {(patterns.Length == 0 ? "every vDPA device" : string.Join(", ", _names))}" +
            $"{(TimeoutSec is { } t ? $" for {t} s" : string.Empty)}{(Count is { } c ? $", until {c} events" : string.Empty)}.");
        while (Count is null || written < Count)
        {
            var batch = ReceiveEvents(monitor, started);
            if (batch is null)
            {
                return;
            }

            if (batch.Overrun)
            {
                WriteWarning("The kernel dropped uevents because they came faster than they were read: some device changes are missing from this watch.");
            }

            var time = DateTime.Now;
            foreach (var uevent in batch.Events)
            {
                if (tracker.Translate(uevent, time) is { } e && (patterns.Length == 0 || Array.Exists(patterns, p => p.IsMatch(e.Name))))
                {
                    WriteObject(e);
                    if (++written == Count)
                    {
                        return;
                    }
                }
            }
        }
    }

    private static string? SafeDriver(VdpaSysfs sysfs, string name)
    {
        try
        {
            return sysfs.GetDriver(name);
        }
        catch (IOException)
        {
            return null;
        }
    }
}

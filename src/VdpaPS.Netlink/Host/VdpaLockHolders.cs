using System.Globalization;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Host;

/// <summary>Something that may hold vdpa's lock, said in a sentence, and how long it may hold it where that is known.</summary>
internal sealed record VdpaLockHolder(string Description, TimeSpan? LongestHold);

/// <summary>
/// Who may hold vdpa's lock while a request waits for the kernel. Every vdpa handler takes vdpa_dev_lock (and generic
/// netlink's mutex): a VDUSE device whose daemon does not answer keeps a DEV_NEW (a driver's probe), a DEV_DEL or a
/// binding waiting for its msg_timeout (30 s by default), and every other vdpa request of every process waits behind it.
/// </summary>
/// <remarks>
/// Looked for: this process's stopped requests the kernel still runs, and VDUSE devices with a vdpa device that no process
/// serves (none has /dev/vduse/NAME open); a served one only when nothing likelier is found. The roots are parameters so
/// tests can point them at a tree of their own.
/// </remarks>
internal sealed class VdpaLockHolders
{
    private readonly string _sys;
    private readonly VdpaProcessScan _processes;
    private readonly string _dev;
    private readonly Func<IReadOnlyList<(NetlinkRequestCanceledException Stopped, TimeSpan Age)>> _pending;

    public VdpaLockHolders(string sysRoot = "/sys", string procRoot = "/proc", string devRoot = "/dev",
        Func<IReadOnlyList<(NetlinkRequestCanceledException Stopped, TimeSpan Age)>>? pending = null)
    {
        _sys = sysRoot;
        _processes = new VdpaProcessScan(procRoot);
        _dev = devRoot;
        _pending = pending ?? PendingRequests.Snapshot;
    }

    public static VdpaLockHolders Default { get; } = new();

    /// <summary>The likely holders, likeliest first.</summary>
    /// <param name="waiting">The request that waits, when it was stopped itself: not its own holder.</param>
    public IReadOnlyList<VdpaLockHolder> Find(NetlinkRequestCanceledException? waiting = null)
    {
        var holders = new List<VdpaLockHolder>();
        foreach (var (stopped, age) in _pending())
        {
            if (!ReferenceEquals(stopped, waiting))
            {
                holders.Add(new VdpaLockHolder(
                    $"this process's {stopped.Request.Operation}, stopped {Seconds(age)} ago, which the kernel is still running", null));
            }
        }

        var vduse = Path.Combine(_sys, "class", "vduse");
        var names = VdpaSysfs.EntryNames(vduse).Where(n => n != "control" && Directory.Exists(Path.Combine(_sys, "bus", "vdpa", "devices", n)))
            .Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
        {
            return holders;
        }

        var nodes = names.ToDictionary(n => Path.Combine(_dev, "vduse", n), n => n, StringComparer.Ordinal);
        var (servers, uninspected) = FindServers(nodes);
        var served = new List<VdpaLockHolder>();
        foreach (var name in names)
        {
            var timeout = ReadSeconds(Path.Combine(vduse, name, "msg_timeout"));
            var timeoutText = timeout is { } t ? $"its msg_timeout of {Seconds(t)}" : "its msg_timeout";
            if (servers.TryGetValue(name, out var server))
            {
                served.Add(new VdpaLockHolder($"VDUSE device '{name}', should its daemon ({server}) not answer: the kernel waits up to {timeoutText} " +
                    "for each message to it", timeout));
            }
            else
            {
                var none = uninspected ? "no process this user can inspect has" : "no process has";
                holders.Add(new VdpaLockHolder($"VDUSE device '{name}', which has no daemon ({none} /dev/vduse/{name} open): the kernel waits up to " +
                    $"{timeoutText} for each message to it", timeout));
            }
        }

        return holders.Count > 0 ? holders : served;
    }

    /// <summary>
    /// One sentence for a user: "the vdpa lock may be held by ..." with the holders found, or what else can hold it. Never
    /// fails: a holder that cannot be looked for is left out.
    /// </summary>
    /// <param name="waiting">The request that waits, when it was stopped itself: not its own holder.</param>
    public string Describe(NetlinkRequestCanceledException? waiting = null)
    {
        IReadOnlyList<VdpaLockHolder> holders;
        try
        {
            holders = Find(waiting);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            holders = [];
        }

        return holders.Count == 0
            ? "no VDUSE device without a daemon and no stopped request of this process was found; another process's vdpa request may hold " +
              "the vdpa lock (a VDUSE device's daemon that does not answer, a parent driver that is slow to create or remove a device)"
            : $"the vdpa lock may be held by {string.Join("; or ", holders.Select(h => h.Description))}";
    }

    /// <summary>The longest any holder found may keep the lock (the largest msg_timeout), or null when none says.</summary>
    public TimeSpan? LongestHold()
    {
        try
        {
            return Find().Select(h => h.LongestHold).Max();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Which VDUSE char devices a process has open ("name, pid N" by VDUSE name, the lowest pid), and whether some process could not be read.</summary>
    private (Dictionary<string, string> Servers, bool Uninspected) FindServers(Dictionary<string, string> nodes)
    {
        var servers = new Dictionary<string, string>(StringComparer.Ordinal);
        var uninspected = false;
        _processes.Walk(nodes.Keys.ToHashSet(StringComparer.Ordinal),
            found: (pid, processDir, target) => servers.TryAdd(nodes[target], $"{VdpaProcessScan.CommandOf(processDir)}, pid {pid.ToString(CultureInfo.InvariantCulture)}"),
            unreadable: (_, _, _) => uninspected = true);
        return (servers, uninspected);
    }

    private static TimeSpan? ReadSeconds(string path) =>
        VdpaProcessScan.ReadTrimmed(path) is { } text && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;

    internal static string Seconds(TimeSpan span) => $"{span.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s";
}

using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using Tmds.Linux;
using VdpaPS.Netlink.Protocol;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Host;

/// <summary>What kind of use a <see cref="VdpaDeviceUser"/> is.</summary>
public enum VdpaDeviceUseKind
{
    /// <summary>A process has the device's char device or disk open.</summary>
    OpenFile,

    /// <summary>The disk or one of its partitions is mounted.</summary>
    Mounted,

    /// <summary>Another block device (device-mapper, md, LVM) is stacked on the disk or a partition.</summary>
    Held,

    /// <summary>The disk or a partition is active swap.</summary>
    Swap,

    /// <summary>
    /// The kernel refuses an exclusive open of the disk or a partition (O_EXCL, EBUSY): something has claimed it (a mount in
    /// any mount namespace, swap, device-mapper, md, btrfs) that no other check named.
    /// </summary>
    Claimed,
}

/// <summary>One user of a device, said in a sentence: "qemu-system-x86 (pid 4242, user libvirt-qemu) has /dev/vhost-vdpa-0 open".</summary>
public sealed record VdpaDeviceUser(VdpaDeviceUseKind Kind, string Resource, string Description)
{
    public int? ProcessId { get; init; }

    public string? Command { get; init; }

    public string? UserName { get; init; }

    public string? MountPoint { get; init; }

    public override string ToString() => Description;
}

/// <summary>A process whose open files this caller may not read (another user's, without root): it may hold the device.</summary>
public sealed record VdpaUninspectedProcess(int ProcessId, string Command, int Errno)
{
    public override string ToString() => $"{Command} (pid {ProcessId})";
}

/// <summary>
/// Who uses a device, what else a change would affect, and what could not be looked at. A check that could not look at
/// everything (<see cref="IsCertain"/> false) counts as in use: a change goes ahead only when forced.
/// </summary>
public sealed record VdpaDeviceUsageReport(
    IReadOnlyList<VdpaDeviceUser> Users,
    IReadOnlyList<string> Notes,
    IReadOnlyList<VdpaUninspectedProcess> UninspectedProcesses,
    IReadOnlyList<string> Unchecked)
{
    /// <summary>At most this many processes are named in <see cref="UncertainNote"/>; the report keeps them all.</summary>
    private const int NamedProcesses = 8;

    public bool InUse => Users.Count > 0;

    /// <summary>True when every process and every claim on the disk could be looked at.</summary>
    public bool IsCertain => UninspectedProcesses.Count == 0 && Unchecked.Count == 0;

    /// <summary>What refuses a change unless forced: a user found, or a check that could not be sure there is none.</summary>
    public bool MayBeInUse => InUse || !IsCertain;

    /// <summary>Why the check could not be sure, with the system's own words, or null when it could.</summary>
    public string? UncertainNote
    {
        get
        {
            var said = new List<string>();
            foreach (var group in UninspectedProcesses.GroupBy(p => p.Errno))
            {
                var count = group.Count();
                var named = string.Join(", ", group.Take(NamedProcesses));
                var more = count > NamedProcesses ? $" and {count - NamedProcesses} more" : string.Empty;
                var why = group.Key is LinuxErrno.EACCES or LinuxErrno.EPERM ? "this user may not read" : "could not be read";
                said.Add($"{count} {(count == 1 ? "process" : "processes")} whose open files {why} " +
                    $"(/proc/PID/fd: {group.Key.DescribeErrno()}): {named}{more}");
            }

            said.AddRange(Unchecked);
            return said.Count == 0 ? null : string.Join("; ", said);
        }
    }
}

/// <summary>
/// Finds what uses a vDPA device before it is removed or unbound: processes holding its /dev/vhost-vdpa-N (a VM's qemu),
/// and for a virtio_vdpa disk its open file descriptors, mounts (in every mount namespace this caller can read), swap,
/// stacked block devices, and the kernel's own answer to an exclusive open. A net interface that is up, addressed or
/// enslaved is reported as a note: taking it away is disruptive but loses no data. What cannot be looked at (another
/// user's process, a disk this caller may not open) is reported too, and counts as in use.
/// </summary>
/// <remarks>The roots are parameters so tests can point them at a tree of their own; the real ones are /proc, /sys, /etc.</remarks>
internal sealed class VdpaDeviceUsage
{
    private readonly string _proc;
    private readonly string _sys;
    private readonly string _etc;
    private readonly Func<string, IReadOnlyList<string>> _addressesOf;
    private readonly Func<string, int> _openExclusive;
    private readonly VdpaProcessScan _processes;

    /// <param name="openExclusive">Opens a block device with O_EXCL and closes it: 0, or the errno.</param>
    /// <param name="listDirectory">A directory's names, or the errno of opening it (a process's fd folder).</param>
    /// <remarks>Tests give their own for what a temp tree cannot show: a claimed disk, a folder root may not read.</remarks>
    public VdpaDeviceUsage(string procRoot = "/proc", string sysRoot = "/sys", string etcRoot = "/etc",
        Func<string, IReadOnlyList<string>>? addressesOf = null, Func<string, int>? openExclusive = null,
        Func<string, (List<string> Names, int Errno)>? listDirectory = null)
    {
        _proc = procRoot;
        _sys = sysRoot;
        _etc = etcRoot;
        _addressesOf = addressesOf ?? AddressesOf;
        _openExclusive = openExclusive ?? OpenExclusive;
        _processes = new VdpaProcessScan(procRoot, listDirectory);
    }

    public static VdpaDeviceUsage Default { get; } = new();

    /// <summary>Looks at what the device became (as <see cref="VdpaSysfs.Describe"/> filled it in).</summary>
    public VdpaDeviceUsageReport Find(VdpaDevice device)
    {
        var users = new List<VdpaDeviceUser>();
        var notes = new List<string>();
        var uninspected = new List<VdpaUninspectedProcess>();
        var unsure = new List<string>();

        // Device nodes are matched by the path the kernel reports for an open file (/proc/PID/fd links), the devtmpfs name.
        var watched = new HashSet<string>(StringComparer.Ordinal);
        if (device.VhostDevicePath is { } vhost)
        {
            watched.Add(vhost);
        }

        var disks = device.BlockDevice is { } disk ? BlockNodes(disk) : [];
        foreach (var node in disks)
        {
            watched.Add(node.Path);
        }

        // Mount namespaces matter only for a disk: each one's first process, to read its mountinfo and name it.
        var namespaces = disks.Count > 0 ? new Dictionary<string, (int Pid, string ProcessDir)>(StringComparer.Ordinal) : null;
        if (watched.Count > 0)
        {
            WalkProcesses(watched, users, uninspected, namespaces);
        }

        if (disks.Count > 0)
        {
            FindMounts(disks, namespaces!, users);
            FindSwap(disks, users);
            FindHolders(disks, users);
            AskTheKernel(disks, users, unsure);
        }

        if (device.VirtioUncertainty is { } why)
        {
            // A disk it may have went unsure; an interface is a note either way.
            if (device.Type == VirtioDeviceClass.Net)
            {
                notes.Add(why);
            }
            else
            {
                unsure.Add($"{why}, so its disk could not be checked");
            }
        }

        if (device.NetworkInterface is { } netdev)
        {
            DescribeInterface(netdev, notes);
        }

        return new VdpaDeviceUsageReport(users, notes, uninspected, unsure);
    }

    /// <summary>A disk and its partitions: /dev path, sysfs directory, major:minor.</summary>
    private sealed record BlockNode(string Path, string SysDir, string? Numbers, bool IsPartition);

    private List<BlockNode> BlockNodes(string diskPath)
    {
        var name = Path.GetFileName(diskPath);
        var devDir = Path.GetDirectoryName(diskPath) ?? "/dev";
        var sysDir = Path.Combine(_sys, "block", name);
        var nodes = new List<BlockNode> { new(diskPath, sysDir, ReadTrimmed(Path.Combine(sysDir, "dev")), IsPartition: false) };
        if (Directory.Exists(sysDir))
        {
            // Partitions are subdirectories with a "partition" file (vdb1, vdb2...).
            foreach (var child in Directory.GetDirectories(sysDir).Order(StringComparer.Ordinal))
            {
                if (File.Exists(Path.Combine(child, "partition")))
                {
                    var part = Path.GetFileName(child);
                    nodes.Add(new BlockNode(Path.Combine(devDir, part), child, ReadTrimmed(Path.Combine(child, "dev")), IsPartition: true));
                }
            }
        }

        return nodes;
    }

    /// <summary>
    /// Every process's open files, and (for a disk) the mount namespaces they are in. A process whose open files cannot be
    /// read (another user's, without root) is kept as uninspected: it may hold the device.
    /// </summary>
    private void WalkProcesses(HashSet<string> watched, List<VdpaDeviceUser> users, List<VdpaUninspectedProcess> uninspected,
        Dictionary<string, (int Pid, string ProcessDir)>? namespaces) =>
        _processes.Walk(watched,
            found: (pid, processDir, target) =>
            {
                var command = VdpaProcessScan.CommandOf(processDir);
                var user = UserOf(processDir);
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.OpenFile, target, $"{command} (pid {pid}, user {user}) has {target} open")
                {
                    ProcessId = pid,
                    Command = command,
                    UserName = user,
                });
            },
            unreadable: (pid, processDir, errno) => uninspected.Add(new VdpaUninspectedProcess(pid, VdpaProcessScan.CommandOf(processDir), errno)),
            readable: namespaces is null ? null : (pid, processDir) =>
            {
                if (VdpaSysfs.ReadLink(Path.Combine(processDir, "ns", "mnt")) is { } mountNamespace)
                {
                    namespaces.TryAdd(mountNamespace, (pid, processDir));
                }
            });

    /// <summary>
    /// The disk's mounts in this caller's mount namespace, then in every other one a process of which could be read (a
    /// container's, a service's with private mounts). A mount is the disk's by its major:minor, or by its source for
    /// filesystems that show an anonymous device number (btrfs: 0:NN).
    /// </summary>
    private void FindMounts(List<BlockNode> disks, Dictionary<string, (int Pid, string ProcessDir)> namespaces, List<VdpaDeviceUser> users)
    {
        var seen = new HashSet<(string, string)>();
        var self = VdpaSysfs.ReadLink(Path.Combine(_proc, "self", "ns", "mnt"));
        FindMountsIn(Path.Combine(_proc, "self"), where: null, disks, seen, users);
        foreach (var (space, (pid, processDir)) in namespaces)
        {
            if (space != self)
            {
                var command = VdpaProcessScan.CommandOf(processDir);
                FindMountsIn(processDir, $" in the mount namespace of {command} (pid {pid})", disks, seen, users);
            }
        }
    }

    private void FindMountsIn(string processDir, string? where, List<BlockNode> disks, HashSet<(string, string)> seen, List<VdpaDeviceUser> users)
    {
        // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
        foreach (var line in ReadLines(Path.Combine(processDir, "mountinfo")))
        {
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 5)
            {
                continue;
            }

            var source = dash > 0 && dash + 2 < fields.Length ? Unescape(fields[dash + 2]) : null;
            var node = disks.FirstOrDefault(d => d.Numbers == fields[2]) ?? disks.FirstOrDefault(d => IsSource(source, d.Path));
            if (node is null)
            {
                continue;
            }

            // A mount seen in several namespaces (copied into a service's private one) is said once, where it was first seen.
            var mountPoint = Unescape(fields[4]);
            if (seen.Add((node.Path, mountPoint)))
            {
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.Mounted, node.Path, $"{node.Path} is mounted on {mountPoint}{where}") { MountPoint = mountPoint });
            }
        }
    }

    /// <summary>Whether a mount's source names the node: as written, or through a link (/dev/disk/by-uuid/...).</summary>
    private static bool IsSource(string? source, string nodePath)
    {
        if (source is null || !source.StartsWith('/'))
        {
            return false;
        }

        if (source == nodePath)
        {
            return true;
        }

        try
        {
            return source.StartsWith("/dev/", StringComparison.Ordinal) &&
                new FileInfo(source).ResolveLinkTarget(returnFinalTarget: true)?.FullName == nodePath;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// The kernel's own answer: an exclusive open (O_EXCL) of a block device fails with EBUSY while anything has claimed
    /// it, in any namespace (a mount, swap, device-mapper, md, btrfs). A claim no other check named is a user; a node this
    /// caller cannot open leaves the check unsure.
    /// </summary>
    private void AskTheKernel(List<BlockNode> disks, List<VdpaDeviceUser> users, List<string> unsure)
    {
        static bool IsClaim(VdpaDeviceUser u) => u.Kind is VdpaDeviceUseKind.Mounted or VdpaDeviceUseKind.Swap or VdpaDeviceUseKind.Held or VdpaDeviceUseKind.Claimed;

        // Partitions first: a claimed partition also makes the whole disk's exclusive open fail, and is then the reason.
        foreach (var node in disks.Where(d => d.IsPartition).Append(disks[0]))
        {
            var errno = _openExclusive(node.Path);
            if (errno == 0)
            {
                continue;
            }

            if (errno != LinuxErrno.EBUSY)
            {
                unsure.Add($"{node.Path} could not be opened to ask the kernel whether it is claimed ({errno.DescribeErrno()})");
            }
            else if (!users.Any(u => IsClaim(u) && (u.Resource == node.Path || (!node.IsPartition && disks.Any(d => d.Path == u.Resource)))))
            {
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.Claimed, node.Path,
                    $"the kernel refuses to open {node.Path} exclusively ({errno.DescribeErrno()}): it is mounted (in a mount namespace this user " +
                    "cannot read, or by a filesystem not found by its device), swap, or part of device-mapper, md or btrfs"));
            }
        }
    }

    /// <summary>open(2) with O_EXCL, read-only (no change event on close), then close: 0, or the errno.</summary>
    private static unsafe int OpenExclusive(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            var fd = open(p, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK, 0);
            if (fd < 0)
            {
                return errno;
            }

            _ = close(fd);
            return 0;
        }
    }

    private void FindSwap(List<BlockNode> disks, List<VdpaDeviceUser> users)
    {
        var paths = disks.Select(d => d.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var line in ReadLines(Path.Combine(_proc, "swaps")).Skip(1))
        {
            var source = Unescape(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? string.Empty);
            if (paths.Contains(source))
            {
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.Swap, source, $"{source} is in use as swap"));
            }
        }
    }

    private void FindHolders(List<BlockNode> disks, List<VdpaDeviceUser> users)
    {
        foreach (var node in disks)
        {
            foreach (var holder in SafeEntries(Path.Combine(node.SysDir, "holders")))
            {
                var name = Path.GetFileName(holder);
                // device-mapper names its devices (an LVM volume's vg-lv); md and others go by their kernel name.
                var mapped = ReadTrimmed(Path.Combine(_sys, "block", name, "dm", "name"));
                var what = mapped is null ? $"/dev/{name}" : $"/dev/{name} (device-mapper '{mapped}')";
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.Held, node.Path, $"{node.Path} is held by {what}"));
            }
        }
    }

    private void DescribeInterface(string netdev, List<string> notes)
    {
        var dir = Path.Combine(_sys, "class", "net", netdev);
        var flagsText = ReadTrimmed(Path.Combine(dir, "flags"));
        const int interfaceUp = 0x1; // IFF_UP
        var up = flagsText is not null && flagsText.StartsWith("0x", StringComparison.OrdinalIgnoreCase) &&
            int.TryParse(flagsText.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var flags) &&
            (flags & interfaceUp) != 0;
        var addresses = _addressesOf(netdev);
        // A bridge port or bond slave has a "master" link to the master's directory.
        var master = new FileInfo(Path.Combine(dir, "master")).LinkTarget is { } link ? Path.GetFileName(link) : null;
        if (up)
        {
            notes.Add(addresses.Count > 0
                ? $"interface {netdev} is up with {string.Join(", ", addresses)}"
                : $"interface {netdev} is up");
        }
        else if (addresses.Count > 0)
        {
            notes.Add($"interface {netdev} has {string.Join(", ", addresses)}");
        }

        if (!string.IsNullOrEmpty(master))
        {
            notes.Add($"interface {netdev} is enslaved to {master}");
        }
    }

    private static IReadOnlyList<string> AddressesOf(string netdev)
    {
        try
        {
            var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == netdev);
            return nic is null ? [] : [.. nic.GetIPProperties().UnicastAddresses.Select(a => $"{a.Address}/{a.PrefixLength}")];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    private string UserOf(string processDir)
    {
        // The real uid (first of the Uid: line) is who started it; a VM's qemu runs as its own user.
        var uidText = ReadLines(Path.Combine(processDir, "status"))
            .FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?
            .Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1);
        if (uidText is null)
        {
            return "?";
        }

        foreach (var line in ReadLines(Path.Combine(_etc, "passwd")))
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && fields[2] == uidText)
            {
                return fields[0];
            }
        }

        return $"uid {uidText}";
    }

    /// <summary>mountinfo and swaps write a space, tab, newline and backslash as \040, \011, \012, \134.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }

    private static bool IsOctal(string s, int start) =>
        start + 3 <= s.Length && s[start] is >= '0' and <= '7' && s[start + 1] is >= '0' and <= '7' && s[start + 2] is >= '0' and <= '7';

    private static string? ReadTrimmed(string path) => VdpaProcessScan.ReadTrimmed(path);

    private static IEnumerable<string> ReadLines(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllLines(path) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static IEnumerable<string> SafeEntries(string path)
    {
        try
        {
            return Directory.Exists(path) ? Directory.GetFileSystemEntries(path).Order(StringComparer.Ordinal) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

/// <summary>A device was not changed because something uses it; <see cref="Users"/> says who.</summary>
public sealed class VdpaDeviceInUseException : InvalidOperationException
{
    public VdpaDeviceInUseException(string message, VdpaDeviceUsageReport usage)
        : base(message)
    {
        Usage = usage;
    }

    public VdpaDeviceUsageReport Usage { get; }

    public IReadOnlyList<VdpaDeviceUser> Users => Usage.Users;
}

using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;

namespace VdpaPS.Netlink.Vdpa;

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

/// <summary>Who uses a device, what else a change would affect, and whether every process could be looked at.</summary>
public sealed record VdpaDeviceUsageReport(IReadOnlyList<VdpaDeviceUser> Users, IReadOnlyList<string> Notes, int UninspectedProcesses)
{
    public bool InUse => Users.Count > 0;

    /// <summary>The sentence for processes whose open files this caller may not read, or null when every one was read.</summary>
    public string? UninspectedNote => UninspectedProcesses == 0
        ? null
        : $"some processes could not be inspected without root ({UninspectedProcesses} whose open files this user may not read)";
}

/// <summary>
/// Finds what uses a vDPA device before it is removed or unbound: processes holding its /dev/vhost-vdpa-N (a VM's qemu),
/// and for a virtio_vdpa disk its mounts, open file descriptors, swap and stacked block devices. A net interface that is
/// up, addressed or enslaved is reported as a note: taking it away is disruptive but loses no data.
/// </summary>
/// <remarks>The roots are parameters so tests can point them at a tree of their own; the real ones are /proc, /sys, /etc.</remarks>
internal sealed class VdpaDeviceUsage
{
    private readonly string _proc;
    private readonly string _sys;
    private readonly string _etc;
    private readonly Func<string, IReadOnlyList<string>> _addressesOf;

    public VdpaDeviceUsage(string procRoot = "/proc", string sysRoot = "/sys", string etcRoot = "/etc",
        Func<string, IReadOnlyList<string>>? addressesOf = null)
    {
        _proc = procRoot;
        _sys = sysRoot;
        _etc = etcRoot;
        _addressesOf = addressesOf ?? AddressesOf;
    }

    public static VdpaDeviceUsage Default { get; } = new();

    /// <summary>Looks at what the device became (as <see cref="VdpaSysfs.Describe"/> filled it in).</summary>
    public VdpaDeviceUsageReport Find(VdpaDevice device)
    {
        var users = new List<VdpaDeviceUser>();
        var notes = new List<string>();

        // Device nodes are matched by the path the kernel reports for an open file (/proc/PID/fd links), the devtmpfs name.
        var watched = new Dictionary<string, string>(StringComparer.Ordinal);
        if (device.VhostDevicePath is { } vhost)
        {
            watched[vhost] = vhost;
        }

        var disks = device.BlockDevice is { } disk ? BlockNodes(disk) : [];
        foreach (var node in disks)
        {
            watched[node.Path] = node.Path;
        }

        var uninspected = watched.Count == 0 ? 0 : FindOpenFiles(watched, users);
        if (disks.Count > 0)
        {
            FindMounts(disks, users);
            FindSwap(disks, users);
            FindHolders(disks, users);
        }

        if (device.NetworkInterface is { } netdev)
        {
            DescribeInterface(netdev, notes);
        }

        return new VdpaDeviceUsageReport(users, notes, uninspected);
    }

    /// <summary>A disk and its partitions: /dev path, sysfs directory, major:minor.</summary>
    private sealed record BlockNode(string Path, string SysDir, string? Numbers);

    private List<BlockNode> BlockNodes(string diskPath)
    {
        var name = Path.GetFileName(diskPath);
        var devDir = Path.GetDirectoryName(diskPath) ?? "/dev";
        var sysDir = Path.Combine(_sys, "block", name);
        var nodes = new List<BlockNode> { new(diskPath, sysDir, ReadTrimmed(Path.Combine(sysDir, "dev"))) };
        if (Directory.Exists(sysDir))
        {
            // Partitions are subdirectories with a "partition" file (vdb1, vdb2...).
            foreach (var child in Directory.GetDirectories(sysDir).Order(StringComparer.Ordinal))
            {
                if (File.Exists(Path.Combine(child, "partition")))
                {
                    var part = Path.GetFileName(child);
                    nodes.Add(new BlockNode(Path.Combine(devDir, part), child, ReadTrimmed(Path.Combine(child, "dev"))));
                }
            }
        }

        return nodes;
    }

    /// <summary>Every process's open files; returns how many processes could not be read (another user's, without root).</summary>
    private int FindOpenFiles(Dictionary<string, string> watched, List<VdpaDeviceUser> users)
    {
        var uninspected = 0;
        foreach (var processDir in SafeDirectories(_proc))
        {
            var pidText = Path.GetFileName(processDir);
            if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string[] fds;
            try
            {
                fds = Directory.GetFileSystemEntries(Path.Combine(processDir, "fd"));
            }
            catch (UnauthorizedAccessException)
            {
                uninspected++;
                continue;
            }
            catch (IOException)
            {
                continue; // The process ended while the list was read.
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var fd in fds)
            {
                // One readlink per descriptor, no exception for one closed meanwhile: every process's are read.
                var target = VdpaSysfs.ReadLink(fd);
                if (target is not null && watched.ContainsKey(target) && seen.Add(target))
                {
                    var command = ReadTrimmed(Path.Combine(processDir, "comm")) ?? "?";
                    var user = UserOf(processDir);
                    users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.OpenFile, target,
                        $"{command} (pid {pid}, user {user}) has {target} open")
                    {
                        ProcessId = pid,
                        Command = command,
                        UserName = user,
                    });
                }
            }
        }

        return uninspected;
    }

    private void FindMounts(List<BlockNode> disks, List<VdpaDeviceUser> users)
    {
        var byNumbers = disks.Where(d => d.Numbers is not null).ToDictionary(d => d.Numbers!, StringComparer.Ordinal);
        // mountinfo: id parent major:minor root mountpoint options ... - fstype source superoptions
        foreach (var line in ReadLines(Path.Combine(_proc, "self", "mountinfo")))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && byNumbers.TryGetValue(fields[2], out var node))
            {
                var mountPoint = Unescape(fields[4]);
                users.Add(new VdpaDeviceUser(VdpaDeviceUseKind.Mounted, node.Path, $"{node.Path} is mounted on {mountPoint}") { MountPoint = mountPoint });
            }
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

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

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

    private static IEnumerable<string> SafeDirectories(string path)
    {
        try
        {
            return Directory.Exists(path) ? Directory.GetDirectories(path) : [];
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

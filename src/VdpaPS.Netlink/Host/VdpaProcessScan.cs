using System.Globalization;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Host;

/// <summary>
/// The one walk of /proc for open files: who has a device node open (a VM's qemu on /dev/vhost-vdpa-N, a mount's disk, a
/// VDUSE daemon on /dev/vduse/NAME). Device nodes are matched by the path the kernel reports for an open file (the
/// /proc/PID/fd links), the devtmpfs name.
/// </summary>
/// <remarks>The root is a parameter so tests can point it at a tree of their own.</remarks>
internal sealed class VdpaProcessScan
{
    private readonly string _proc;
    private readonly Func<string, (List<string> Names, int Errno)> _listDirectory;

    /// <param name="listDirectory">A directory's names, or the errno of opening it (a process's fd folder).</param>
    public VdpaProcessScan(string procRoot = "/proc", Func<string, (List<string> Names, int Errno)>? listDirectory = null)
    {
        _proc = procRoot;
        _listDirectory = listDirectory ?? (directory => (VdpaSysfs.EntryNames(directory, out var errno), errno));
    }

    /// <summary>
    /// Every process, lowest pid first, whose open files include one of <paramref name="watched"/>: <paramref name="found"/>
    /// (pid, its /proc folder, the file) once a process and file. A process whose open files cannot be read (another user's,
    /// without root) goes to <paramref name="unreadable"/> with the errno: it may hold the file. One that ended meanwhile
    /// (ENOENT) holds nothing, nor does a kernel thread, which has no files. <paramref name="readable"/> sees every process whose
    /// open files were read, before its files.
    /// </summary>
    public void Walk(IReadOnlySet<string> watched, Action<int, string, string> found, Action<int, string, int>? unreadable = null,
        Action<int, string>? readable = null)
    {
        foreach (var pidText in VdpaSysfs.EntryNames(_proc).Order(StringComparer.Ordinal).OrderBy(n => n.Length))
        {
            if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            var processDir = Path.Combine(_proc, pidText);
            // readdir alone: one readlink per descriptor, no stat, no exception for one closed meanwhile.
            var (fds, errno) = _listDirectory(Path.Combine(processDir, "fd"));
            if (errno != 0)
            {
                if (errno != LinuxErrno.ENOENT && Directory.Exists(processDir) && !IsKernelThread(processDir))
                {
                    unreadable?.Invoke(pid, processDir, errno);
                }

                continue;
            }

            readable?.Invoke(pid, processDir);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var fd in fds)
            {
                var target = VdpaSysfs.ReadLink(Path.Combine(processDir, "fd", fd));
                if (target is not null && watched.Contains(target) && seen.Add(target))
                {
                    found(pid, processDir, target);
                }
            }
        }
    }

    /// <summary>A process's command name (/proc/PID/comm), "?" when it cannot be read.</summary>
    public static string CommandOf(string processDir) => ReadTrimmed(Path.Combine(processDir, "comm")) ?? "?";

    /// <summary>A small text file (/proc, /sys) without its surrounding white space; null when it is missing or cannot be read.</summary>
    public static string? ReadTrimmed(string path)
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

    /// <summary>PF_KTHREAD in the flags of /proc/PID/stat (the ninth field; the second, the command, is in parentheses).</summary>
    private static bool IsKernelThread(string processDir)
    {
        const ulong KernelThread = 0x00200000;
        var stat = ReadTrimmed(Path.Combine(processDir, "stat"));
        var afterCommand = stat?.LastIndexOf(')') is int end and >= 0 ? stat[(end + 1)..] : null;
        var flags = afterCommand?.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(6);
        return flags is not null && ulong.TryParse(flags, NumberStyles.None, CultureInfo.InvariantCulture, out var value) &&
            (value & KernelThread) != 0;
    }
}

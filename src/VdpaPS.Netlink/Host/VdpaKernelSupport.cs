using System.IO.Compression;

namespace VdpaPS.Netlink.Host;

/// <summary>Why the vdpa family is missing.</summary>
internal enum VdpaAbsence
{
    /// <summary>Nothing told which case it is.</summary>
    Unknown,

    /// <summary>vdpa is built as a module for this kernel but not loaded: modprobe vdpa.</summary>
    NotLoaded,

    /// <summary>This kernel was built without vDPA (CONFIG_VDPA is not set): no modprobe can help.</summary>
    NotBuilt,

    /// <summary>vdpa is there, but this process cannot see it: another network namespace (vdpa is not netns-aware).</summary>
    NotVisible,
}

/// <summary>The diagnosis, with the files it was read from.</summary>
internal sealed record VdpaAbsenceDiagnosis(VdpaAbsence Reason, string Evidence);

/// <summary>
/// Tells the cases of a missing vdpa family apart from what the system shows: /sys/module/vdpa (loaded), the kernel's
/// config (/boot/config-RELEASE or /proc/config.gz: CONFIG_VDPA), its module lists (/lib/modules/RELEASE/modules.dep and
/// modules.builtin), and whether this process shares the initial network namespace.
/// </summary>
internal sealed class VdpaKernelSupport
{
    // The module's file, in whatever folder the list gives it (kernel/drivers/vdpa/ in a distribution's tree, extra/ or
    // updates/ for one built apart).
    private const string ModuleFile = "vdpa.ko";
    private readonly string _root;
    private readonly string _release;

    /// <param name="root">The file system root ("/" on a real system; a folder in tests).</param>
    /// <param name="release">The kernel release (uname -r); read from /proc/sys/kernel/osrelease when null.</param>
    public VdpaKernelSupport(string root = "/", string? release = null)
    {
        _root = root;
        _release = release ?? ReadText("proc/sys/kernel/osrelease")?.Trim() ?? string.Empty;
    }

    public string Release => _release;

    public VdpaAbsenceDiagnosis Diagnose()
    {
        if (Directory.Exists(PathOf("sys/module/vdpa")))
        {
            return new(VdpaAbsence.NotVisible, "/sys/module/vdpa exists: the module is loaded, yet nlctrl does not list the family here");
        }

        if (OtherNetworkNamespace() is { } netns)
        {
            return new(VdpaAbsence.NotVisible, netns);
        }

        foreach (var (file, text) in ConfigFiles())
        {
            foreach (var line in text.Split('\n'))
            {
                var trimmed = line.Trim();
                if (trimmed == "# CONFIG_VDPA is not set")
                {
                    return new(VdpaAbsence.NotBuilt, $"{file} says \"# CONFIG_VDPA is not set\"");
                }

                if (trimmed == "CONFIG_VDPA=m")
                {
                    return new(VdpaAbsence.NotLoaded, $"{file} says CONFIG_VDPA=m and /sys/module/vdpa does not exist");
                }

                if (trimmed == "CONFIG_VDPA=y")
                {
                    return new(VdpaAbsence.NotVisible, $"{file} says CONFIG_VDPA=y (built in), yet nlctrl does not list the family here");
                }
            }
        }

        var modules = $"lib/modules/{_release}";
        var dep = ReadText($"{modules}/modules.dep");
        var builtin = ReadText($"{modules}/modules.builtin");
        if (FindModule(dep, ':') is { } listed)
        {
            return new(VdpaAbsence.NotLoaded, $"/{modules}/modules.dep lists {listed} and /sys/module/vdpa does not exist");
        }

        if (FindModule(builtin, null) is { } built)
        {
            return new(VdpaAbsence.NotVisible, $"/{modules}/modules.builtin lists {built}, yet nlctrl does not list the family here");
        }

        if (dep is not null)
        {
            return new(VdpaAbsence.NotBuilt, $"neither /{modules}/modules.dep nor modules.builtin lists {ModuleFile}");
        }

        return new(VdpaAbsence.Unknown, $"no kernel config (/boot/config-{_release}, /proc/config.gz) and no /{modules}/modules.dep to read");
    }

    /// <summary>
    /// The vdpa module's name as a module list gives it, or null when it is not there. Distributions compress modules, and
    /// modules.dep names the file: vdpa.ko.xz (Fedora, Debian), vdpa.ko.zst (Ubuntu, Arch), vdpa.ko.gz.
    /// </summary>
    /// <param name="end">What ends the name on its line: ':' in modules.dep (its dependencies follow), null in modules.builtin.</param>
    internal static string? FindModule(string? list, char? end)
    {
        if (list is null)
        {
            return null;
        }

        foreach (var raw in list.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var name = end is { } c && line.IndexOf(c, StringComparison.Ordinal) is var at and >= 0 ? line[..at] : line.Trim();
            var file = name[(name.LastIndexOf('/') + 1)..];
            if (file == ModuleFile || Array.Exists(CompressedSuffixes, s => file == ModuleFile + s))
            {
                return name;
            }
        }

        return null;
    }

    private static readonly string[] CompressedSuffixes = [".xz", ".zst", ".gz"];

    private IEnumerable<(string File, string Text)> ConfigFiles()
    {
        if (ReadText($"boot/config-{_release}") is { } boot)
        {
            yield return ($"/boot/config-{_release}", boot);
        }

        string? proc = null;
        try
        {
            var path = PathOf("proc/config.gz");
            if (File.Exists(path))
            {
                using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
                using var reader = new StreamReader(gz);
                proc = reader.ReadToEnd();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            proc = null;
        }

        if (proc is not null)
        {
            yield return ("/proc/config.gz", proc);
        }
    }

    /// <summary>A sentence when this process is not in the initial network namespace (where vdpa and the host's uevents are); else null.</summary>
    public string? OtherNetworkNamespace()
    {
        try
        {
            var own = new FileInfo(PathOf("proc/self/ns/net")).LinkTarget;
            var init = new FileInfo(PathOf("proc/1/ns/net")).LinkTarget;
            return own is not null && init is not null && own != init
                ? $"this process is in network namespace {own}, not the initial one ({init}), and vdpa answers only there"
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string PathOf(string relative) => Path.Combine(_root, relative);

    private string? ReadText(string relative)
    {
        try
        {
            var path = PathOf(relative);
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

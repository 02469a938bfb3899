using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>Writes a configuration as Export-VdpaConfiguration does: indented, the file's property names, unmanaged attributes left out.</summary>
internal static class VdpaConfigurationWriter
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        // MAC addresses and parent names stay readable (no \u002B escapes).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize(VdpaConfiguration configuration) => JsonSerializer.Serialize(configuration, Options) + "\n";
}

/// <summary>Why a configuration file (or a folder above it) is not root's alone.</summary>
internal sealed record VdpaUnsafePath(string Path, uint OwnerUid, uint Mode, string Reason);

/// <summary>
/// The file decides which devices exist and what they are bound to, so as root it must be root's alone, as sshd demands
/// of key files: owned by root, not writable by group or others, and so every folder above it (one writable folder lets
/// another user swap the file).
/// </summary>
internal static class VdpaConfigurationFileCheck
{
    private const uint GroupWrite = 0x10; // S_IWGRP, octal 020
    private const uint OtherWrite = 0x2; // S_IWOTH, octal 002

    /// <summary>Whether this process runs as root (the only case the check applies to).</summary>
    public static bool RunningAsRoot => geteuid() == 0;

    /// <summary>The first path that is not root's alone, from the file up to '/'; null when all are.</summary>
    /// <param name="statPath">Owner and mode of a path (null when it cannot be read); the real stat(2) by default.</param>
    public static VdpaUnsafePath? FindUnsafePath(string file, Func<string, (uint Uid, uint Mode)?>? statPath = null)
    {
        statPath ??= Stat;
        var full = Path.GetFullPath(file);
        // The file a symlink points to is what gets read: check that one, and the folders above it.
        var resolved = statPath == Stat ? (File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full) : full;
        for (var path = resolved; path is not null; path = Path.GetDirectoryName(path))
        {
            if (statPath(path) is not { } st)
            {
                return new VdpaUnsafePath(path, uint.MaxValue, 0, "its owner and mode cannot be read");
            }

            var what = path == resolved ? "the file" : "a folder above the file";
            if (st.Uid != 0)
            {
                return new VdpaUnsafePath(path, st.Uid, st.Mode, $"{what} is owned by user id {st.Uid}, not root");
            }

            if ((st.Mode & (GroupWrite | OtherWrite)) != 0)
            {
                var who = (st.Mode & OtherWrite) != 0 ? "every user" : "its group";
                return new VdpaUnsafePath(path, st.Uid, st.Mode, $"{what} is writable by {who} (mode {Convert.ToString(st.Mode & 0xFFF, 8)})");
            }
        }

        return null;
    }

    private static unsafe (uint Uid, uint Mode)? Stat(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        Tmds.Linux.stat st;
        fixed (byte* p = bytes)
        {
            return stat(p, &st) == 0 ? ((uint)st.st_uid, (uint)st.st_mode) : null;
        }
    }
}

using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Configuration;

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

    /// <summary>
    /// Replaces <paramref name="path"/> whole: the text goes to a new temporary file in the same folder (so the rename
    /// stays on one filesystem), is flushed to disk, and is renamed over the target. A reader (the boot unit) sees the old
    /// file or the new one, never half of one. A symlink as target is refused: writing through it would change a file
    /// elsewhere. The mode of a file replaced is kept (0644 for a new one), and its owner when this process may set it.
    /// </summary>
    /// <param name="beforeRename">Called with the temporary file's path before the rename (tests break the write there).</param>
    /// <exception cref="IOException">The target is a symlink or a folder, or the folder cannot be written.</exception>
    public static void WriteFile(string path, string text, Action<string>? beforeRename = null)
    {
        var full = Path.GetFullPath(path);
        var target = new FileInfo(full);
        if (target.LinkTarget is { } link)
        {
            throw new IOException($"{full} is a symbolic link (to {link}); the configuration is not written through it. Give the path of the file itself.");
        }

        if (Directory.Exists(full))
        {
            throw new IOException($"{full} is a folder; give the path of a file.");
        }

        var folder = Path.GetDirectoryName(full)!;
        var temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // CreateNew is O_CREAT|O_EXCL: it never follows a symlink someone put at the temporary name.
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var fd = (int)stream.SafeFileHandle.DangerousGetHandle();
                var former = target.Exists ? Owner(full) : null;
                _ = fchmod(fd, (Tmds.Linux.mode_t)(former?.Mode & 0xFFF ?? 0x1A4)); // 0644 for a new file
                if (former is { } owner && (owner.Uid, owner.Gid) != (geteuid(), getegid()))
                {
                    _ = fchown(fd, owner.Uid, owner.Gid); // only root may; else the file becomes the caller's
                }

                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }

            beforeRename?.Invoke(temporary);

            // rename(2) replaces the target name itself, even if a symlink was put there since the check above.
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static unsafe (uint Uid, uint Gid, uint Mode)? Owner(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        Tmds.Linux.stat st;
        fixed (byte* p = bytes)
        {
            return lstat(p, &st) == 0 ? ((uint)st.st_uid, (uint)st.st_gid, (uint)st.st_mode) : null;
        }
    }
}

/// <summary>Why a configuration file (or a folder above it) could be changed by someone other than root and the caller.</summary>
internal sealed record VdpaUnsafePath(string Path, uint OwnerUid, uint Mode, string Reason);

/// <summary>A configuration file refused before its content was used: another user could have written it.</summary>
internal sealed class VdpaConfigurationNotSecureException(string file, VdpaUnsafePath found)
    : IOException($"{file}: {found.Path}: {found.Reason}")
{
    public string File { get; } = file;

    public VdpaUnsafePath Found { get; } = found;
}

/// <summary>
/// The file decides which devices exist and what they are bound to, so for a caller that can change devices it must be
/// that caller's or root's alone, as sshd demands of key files: owned by one of them, not writable by group or others,
/// and so every folder above its real path (one writable folder lets another user swap the file). The file is opened
/// once: its owner and mode come from fstat on that descriptor and its content from the same descriptor, so a file
/// swapped in after the check is never the one read.
/// </summary>
internal static class VdpaConfigurationFileCheck
{
    private const uint GroupWrite = 0x10; // S_IWGRP, octal 020
    private const uint OtherWrite = 0x2; // S_IWOTH, octal 002
    private const uint TypeMask = 0xF000; // S_IFMT
    private const uint RegularFile = 0x8000; // S_IFREG
    private const int CapNetAdmin = 12;

    /// <summary>Whether the check applies to a caller: any that can change devices (root, or CAP_NET_ADMIN in its effective set).</summary>
    public static bool AppliesTo(uint euid, ulong? effectiveCapabilities) =>
        euid == 0 || effectiveCapabilities is not { } caps || (caps & (1UL << CapNetAdmin)) != 0;

    /// <summary>Whether the check applies to this process (capabilities that cannot be read count as able).</summary>
    public static bool AppliesToThisProcess => AppliesTo(geteuid(), ReadEffectiveCapabilities());

    /// <summary>This process's effective user id.</summary>
    public static uint EffectiveUid => geteuid();

    /// <summary>The owners a trusted file or folder may have: root, and the caller itself.</summary>
    public static IReadOnlyCollection<uint> TrustedOwners(uint euid) => euid == 0 ? [0u] : [0u, euid];

    /// <summary>
    /// The file's bytes, read through one descriptor. With <paramref name="check"/>, the descriptor's owner and mode
    /// (fstat) and every folder above its real path (as /proc/self/fd names it, symlinks resolved) are checked first.
    /// </summary>
    /// <param name="statFolder">Owner and mode of a folder (the real stat(2) by default; tests give their own).</param>
    /// <param name="opened">Called right after the open (tests swap the file there).</param>
    /// <exception cref="VdpaConfigurationNotSecureException">Another user could have written the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static byte[] Read(string file, bool check, IReadOnlyCollection<uint>? trusted = null, Func<string, (uint Uid, uint Mode)?>? statFolder = null,
        Action? opened = null)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read);
        opened?.Invoke();
        if (check)
        {
            var fd = (int)handle.DangerousGetHandle();
            var found = FStat(fd) is not { } st
                ? new VdpaUnsafePath(file, uint.MaxValue, 0, "its owner and mode cannot be read (fstat)")
                : RealPath(fd) is not { } real
                    ? new VdpaUnsafePath(file, st.Uid, st.Mode, "its real path cannot be read (/proc/self/fd), so the folders above it cannot be checked")
                    : FindUnsafe(real, st, trusted ?? TrustedOwners(EffectiveUid), statFolder ?? Stat);
            if (found is not null)
            {
                throw new VdpaConfigurationNotSecureException(file, found);
            }
        }

        var length = RandomAccess.GetLength(handle);
        var buffer = new byte[length];
        var total = 0;
        for (int read; total < buffer.Length && (read = RandomAccess.Read(handle, buffer.AsSpan(total), total)) > 0;)
        {
            total += read;
        }

        return total == buffer.Length ? buffer : buffer[..total];
    }

    /// <summary>
    /// The first entry another user could change: the file (as fstat described the opened descriptor), then each folder
    /// above its real path up to '/'. Null when all are the trusted owners' alone.
    /// </summary>
    public static VdpaUnsafePath? FindUnsafe(string realPath, (uint Uid, uint Mode) file, IReadOnlyCollection<uint> trusted,
        Func<string, (uint Uid, uint Mode)?> statFolder)
    {
        if ((file.Mode & TypeMask) != RegularFile)
        {
            return new VdpaUnsafePath(realPath, file.Uid, file.Mode, "it is not a regular file");
        }

        if (Unsafe(realPath, file, "the file", trusted) is { } found)
        {
            return found;
        }

        for (var path = Path.GetDirectoryName(realPath); path is not null; path = Path.GetDirectoryName(path))
        {
            if (statFolder(path) is not { } st)
            {
                return new VdpaUnsafePath(path, uint.MaxValue, 0, "its owner and mode cannot be read");
            }

            if (Unsafe(path, st, "a folder above the file", trusted) is { } folder)
            {
                return folder;
            }
        }

        return null;
    }

    private static VdpaUnsafePath? Unsafe(string path, (uint Uid, uint Mode) st, string what, IReadOnlyCollection<uint> trusted)
    {
        if (!trusted.Contains(st.Uid))
        {
            var owners = string.Join(" or ", trusted.Select(u => u == 0 ? "root" : $"user id {u} (the caller)"));
            return new VdpaUnsafePath(path, st.Uid, st.Mode, $"{what} is owned by user id {st.Uid}, not {owners}");
        }

        if ((st.Mode & (GroupWrite | OtherWrite)) != 0)
        {
            var who = (st.Mode & OtherWrite) != 0 ? "every user" : "its group";
            return new VdpaUnsafePath(path, st.Uid, st.Mode, $"{what} is writable by {who} (mode {Convert.ToString(st.Mode & 0xFFF, 8)})");
        }

        return null;
    }

    /// <summary>The opened file's path with every symlink resolved, as the kernel names it; null when it cannot be told (no /proc).</summary>
    private static string? RealPath(int fd)
    {
        try
        {
            // A file replaced since the open still names the folder it was opened in: that folder is the one to check.
            const string Deleted = " (deleted)";
            var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            target = target?.EndsWith(Deleted, StringComparison.Ordinal) == true ? target[..^Deleted.Length] : target;
            return target is not null && target.StartsWith('/') ? target : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>CapEff from /proc/self/status; null when it cannot be read.</summary>
    private static ulong? ReadEffectiveCapabilities()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is not null && ulong.TryParse(line[7..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out var caps) ? caps : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static unsafe (uint Uid, uint Mode)? FStat(int fd)
    {
        Tmds.Linux.stat st;
        return fstat(fd, &st) == 0 ? ((uint)st.st_uid, (uint)st.st_mode) : null;
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

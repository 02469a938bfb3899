using System.Globalization;
using System.Text;

namespace VdpaPS.Netlink.Host;

/// <summary>
/// One kernel uevent as NETLINK_KOBJECT_UEVENT carries it: "ACTION@DEVPATH\0" then "KEY=VALUE\0" pairs
/// (lib/kobject_uevent.c: ACTION, DEVPATH, SUBSYSTEM, SEQNUM always; DRIVER on a bind, DEVNAME for device nodes...).
/// </summary>
internal sealed class Uevent
{
    /// <summary>udev re-sends events to its listeners with this header (systemd's libudev monitor); they are not the kernel's.</summary>
    private static readonly byte[] LibudevMagic = "libudev\0"u8.ToArray();

    private Uevent(string action, string devicePath, IReadOnlyDictionary<string, string> properties)
    {
        Action = action;
        DevicePath = devicePath;
        Properties = properties;
    }

    /// <summary>add, remove, bind, unbind, change, move, online, offline.</summary>
    public string Action { get; }

    /// <summary>The device's path under /sys, starting at /devices (or /module for module events).</summary>
    public string DevicePath { get; }

    public IReadOnlyDictionary<string, string> Properties { get; }

    /// <summary>vdpa, net, block, virtio, module...; null for the rare event without one.</summary>
    public string? Subsystem => Get("SUBSYSTEM");

    /// <summary>The driver, on a bind (the kernel adds it while a driver is bound; an unbind comes after it left).</summary>
    public string? Driver => Get("DRIVER");

    /// <summary>The kernel's name of the object: the last part of its path (ev-n0, vhost-vdpa-0, eth0, vda).</summary>
    public string Name => DevicePath[(DevicePath.LastIndexOf('/') + 1)..];

    /// <summary>The kernel's event counter; it grows by one for every uevent, so a gap means events sent elsewhere or lost.</summary>
    public ulong? SequenceNumber =>
        ulong.TryParse(Get("SEQNUM"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    public string? Get(string key) => Properties.TryGetValue(key, out var value) ? value : null;

    /// <summary>Reads one datagram. Null when it is not a kernel uevent: udev's "libudev" messages, or text without the ACTION@DEVPATH header.</summary>
    public static Uevent? Parse(ReadOnlySpan<byte> datagram)
    {
        if (datagram.StartsWith(LibudevMagic))
        {
            return null;
        }

        var end = datagram.IndexOf((byte)0);
        var header = end < 0 ? datagram : datagram[..end];
        var at = header.IndexOf((byte)'@');
        if (at <= 0 || at == header.Length - 1 || header[at + 1] != (byte)'/')
        {
            return null;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = end < 0 ? ReadOnlySpan<byte>.Empty : datagram[(end + 1)..];
        while (!rest.IsEmpty)
        {
            var next = rest.IndexOf((byte)0);
            var field = next < 0 ? rest : rest[..next];
            rest = next < 0 ? ReadOnlySpan<byte>.Empty : rest[(next + 1)..];
            var equals = field.IndexOf((byte)'=');
            if (equals > 0)
            {
                // The kernel writes each key once; if one came twice, the later value is what a reader of the environment would see.
                properties[Encoding.UTF8.GetString(field[..equals])] = Encoding.UTF8.GetString(field[(equals + 1)..]);
            }
        }

        return new Uevent(Encoding.UTF8.GetString(header[..at]), Encoding.UTF8.GetString(header[(at + 1)..]), properties);
    }

    public override string ToString() => $"{Action}@{DevicePath}";
}

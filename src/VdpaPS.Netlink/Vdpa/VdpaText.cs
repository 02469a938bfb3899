using System.Globalization;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>Checks and conversions for what users type: names, parents, MAC addresses.</summary>
internal static class VdpaText
{
    /// <summary>Longest device name accepted: a sysfs file name (NAME_MAX).</summary>
    public const int MaxNameLength = 255;

    /// <summary>Why a device name cannot be used, or null when it can.</summary>
    /// <remarks>The name becomes a sysfs directory (/sys/bus/vdpa/devices/NAME), so path separators and dot names would escape it.</remarks>
    public static string? CheckDeviceName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "The name is empty.";
        }

        if (name.Length > MaxNameLength)
        {
            return $"The name is {name.Length} characters long; at most {MaxNameLength} are allowed.";
        }

        if (name is "." or "..")
        {
            return $"'{name}' is not a usable device name.";
        }

        foreach (var c in name)
        {
            if (c == '/')
            {
                return "The name contains '/', which a sysfs device name cannot.";
            }

            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return $"The name contains a control or white-space character (U+{(int)c:X4}).";
            }
        }

        return null;
    }

    /// <summary>Splits "bus/device" into its parts; a name without '/' has no bus (vdpasim_net, vduse).</summary>
    public static (string? BusName, string DeviceName) SplitParentName(string parent)
    {
        var slash = parent.IndexOf('/');
        return slash < 0 ? (null, parent) : (parent[..slash], parent[(slash + 1)..]);
    }

    public static string JoinParentName(string? busName, string deviceName) =>
        string.IsNullOrEmpty(busName) ? deviceName : $"{busName}/{deviceName}";

    /// <summary>Why a parent name cannot be used, or null.</summary>
    public static string? CheckParentName(string? parent)
    {
        if (string.IsNullOrEmpty(parent))
        {
            return "The parent name is empty.";
        }

        var (bus, device) = SplitParentName(parent);
        if (bus is { Length: 0 } || device.Length == 0 || device.Contains('/'))
        {
            return $"'{parent}' is not a parent name: use 'bus/device' (pci/0000:03:00.5) or a device alone (vdpasim_net).";
        }

        foreach (var c in parent)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                return $"The parent name contains a control or white-space character (U+{(int)c:X4}).";
            }
        }

        return null;
    }

    /// <summary>Parses "00:11:22:33:44:55" (also with '-' separators); null with a reason when it is not a unicast MAC.</summary>
    public static byte[]? ParseMacAddress(string? text, out string? error)
    {
        error = null;
        var parts = text?.Split(text.Contains('-') ? '-' : ':');
        if (parts is not { Length: 6 } || Array.Exists(parts, p => p.Length != 2))
        {
            error = $"'{text}' is not a MAC address: six two-digit hex bytes are needed, as in 02:00:00:00:00:01.";
            return null;
        }

        var mac = new byte[6];
        for (var i = 0; i < 6; i++)
        {
            if (!byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]))
            {
                error = $"'{text}' is not a MAC address: '{parts[i]}' is not a hex byte.";
                return null;
            }
        }

        if ((mac[0] & 1) != 0)
        {
            error = $"'{text}' is a multicast address; a device needs a unicast MAC (the lowest bit of the first byte clear).";
            return null;
        }

        if (Array.TrueForAll(mac, b => b == 0))
        {
            error = $"'{text}' is the all-zero address, which no device may have.";
            return null;
        }

        return mac;
    }

    /// <summary>
    /// An argument exception's reason for a user: its message without the " (Parameter 'names')" .NET appends, which names a
    /// parameter of the core, not the cmdlet's.
    /// </summary>
    public static string ReasonOf(ArgumentException e) => e.Message.Split(" (Parameter")[0];

    /// <remarks>Allocates only the string it returns: decoding a net device's configuration calls it for every device.</remarks>
    public static string FormatMacAddress(ReadOnlySpan<byte> mac) =>
        mac.IsEmpty ? string.Empty : string.Create(mac.Length * 3 - 1, mac, static (text, bytes) =>
        {
            const string hex = "0123456789abcdef";
            for (var i = 0; i < bytes.Length; i++)
            {
                var at = i * 3;
                if (i > 0)
                {
                    text[at - 1] = ':';
                }

                text[at] = hex[bytes[i] >> 4];
                text[at + 1] = hex[bytes[i] & 0xF];
            }
        });
}

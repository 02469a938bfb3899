using System.Collections.ObjectModel;
using System.Globalization;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// Names for virtio feature bits, matching the short names iproute2's <c>vdpa</c> tool prints, so that
/// objects agree with <c>vdpa -j</c>. Bits iproute2 does not know are named after the kernel macro's suffix.
/// </summary>
/// <remarks>
/// Bit numbers come from the Linux uapi headers (include/uapi/linux/virtio_config.h, virtio_ring.h,
/// virtio_net.h, virtio_blk.h); the names iproute2 prints come from vdpa/vdpa.c (net_feature_strs and
/// ext_feature_strs). Only bits 0..63 exist here, because the vdpa netlink attributes carry a u64.
/// </remarks>
internal static class VirtioFeatures
{
    private const int BitCount = 64;

    // Transport bits: the same meaning whatever the device class. iproute2 names 28..38 from ext_feature_strs
    // and 24/27 from net_feature_strs; we name 24/27 for every class, and 39..41, which iproute2 lacks.
    private static readonly string?[] TransportNames = ByBit(
        (24, "NOTIFY_ON_EMPTY"),     // VIRTIO_F_NOTIFY_ON_EMPTY (legacy)
        (27, "ANY_LAYOUT"),          // VIRTIO_F_ANY_LAYOUT (legacy)
        (28, "RING_INDIRECT_DESC"),  // VIRTIO_RING_F_INDIRECT_DESC
        (29, "RING_EVENT_IDX"),      // VIRTIO_RING_F_EVENT_IDX
        (32, "VERSION_1"),
        (33, "ACCESS_PLATFORM"),
        (34, "RING_PACKED"),
        (35, "IN_ORDER"),
        (36, "ORDER_PLATFORM"),
        (37, "SR_IOV"),
        (38, "NOTIFICATION_DATA"),
        (39, "NOTIF_CONFIG_DATA"),   // not in iproute2
        (40, "RING_RESET"),          // not in iproute2
        (41, "ADMIN_VQ"));           // not in iproute2

    // virtio-net. 0..23 and 25..63 except where the transport table speaks; iproute2 names all but the
    // ones marked. VIRTIO_NET_F_*_UDP_TUNNEL_GSO* are bits 65..68, beyond what vdpa reports, and the
    // *_MAPPED values 46/47 are offload-command bits, not feature bits, so neither appears here.
    private static readonly string?[] NetNames = ByBit(
        (0, "CSUM"),
        (1, "GUEST_CSUM"),
        (2, "CTRL_GUEST_OFFLOADS"),
        (3, "MTU"),
        (5, "MAC"),
        (6, "GSO"),                  // legacy; not in iproute2
        (7, "GUEST_TSO4"),
        (8, "GUEST_TSO6"),
        (9, "GUEST_ECN"),
        (10, "GUEST_UFO"),
        (11, "HOST_TSO4"),
        (12, "HOST_TSO6"),
        (13, "HOST_ECN"),
        (14, "HOST_UFO"),
        (15, "MRG_RXBUF"),
        (16, "STATUS"),
        (17, "CTRL_VQ"),
        (18, "CTRL_RX"),
        (19, "CTRL_VLAN"),
        (20, "CTRL_RX_EXTRA"),
        (21, "GUEST_ANNOUNCE"),
        (22, "MQ"),
        (23, "CTRL_MAC_ADDR"),
        (50, "DEVICE_STATS"),        // not in iproute2
        (52, "VQ_NOTF_COAL"),        // not in iproute2
        (53, "NOTF_COAL"),           // not in iproute2
        (54, "GUEST_USO4"),          // not in iproute2
        (55, "GUEST_USO6"),          // not in iproute2
        (56, "HOST_USO"),            // not in iproute2
        (57, "HASH_REPORT"),
        (59, "GUEST_HDRLEN"),        // not in iproute2
        (60, "RSS"),
        (61, "RSC_EXT"),
        (62, "STANDBY"),
        (63, "SPEED_DUPLEX"));

    // virtio-blk. iproute2 has no block table and prints bit_N for all of these.
    private static readonly string?[] BlockNames = ByBit(
        (0, "BARRIER"),              // legacy
        (1, "SIZE_MAX"),
        (2, "SEG_MAX"),
        (4, "GEOMETRY"),
        (5, "RO"),
        (6, "BLK_SIZE"),
        (7, "SCSI"),                 // legacy
        (9, "FLUSH"),                // legacy name VIRTIO_BLK_F_WCE, accepted as an alias
        (10, "TOPOLOGY"),
        (11, "CONFIG_WCE"),
        (12, "MQ"),
        (13, "DISCARD"),
        (14, "WRITE_ZEROES"),
        (15, "LIFETIME"),            // virtio spec 1.2+; the mainline uapi header does not define it
        (16, "SECURE_ERASE"),
        (17, "ZONED"));

    // Old names still accepted on input (never printed): the kernel keeps them as compatibility macros.
    private static readonly (int Bit, string Name)[] TransportAliases = [(33, "IOMMU_PLATFORM")];
    private static readonly (int Bit, string Name)[] BlockAliases = [(9, "WCE")];

    // PowerShell users write "MAC,MTU" as one string as often as an array; accept both.
    private static readonly char[] EntrySeparators = [',', ' ', '\t'];

    private static readonly Lookup UnknownLookup = new(null, []);
    private static readonly Lookup NetLookup = new(NetNames, []);
    private static readonly Lookup BlockLookup = new(BlockNames, BlockAliases);

    /// <summary>
    /// Names for the set bits of <paramref name="mask"/>, lowest bit first. A bit with no name is "bit_N",
    /// as iproute2 prints it. Never throws.
    /// </summary>
    public static string[] GetNames(ulong mask, VirtioDeviceClass deviceClass)
    {
        var classNames = ClassNames(deviceClass);
        var names = new string[System.Numerics.BitOperations.PopCount(mask)];
        var n = 0;
        for (var bit = 0; bit < BitCount; bit++)
        {
            if ((mask & (1UL << bit)) == 0)
            {
                continue;
            }

            names[n++] = TransportNames[bit] ?? classNames?[bit] ?? "bit_" + bit.ToString(CultureInfo.InvariantCulture);
        }

        return names;
    }

    /// <summary>
    /// The bit a feature name stands for. Case-insensitive; accepts the short name ("MAC", "VERSION_1"), the full
    /// macro ("VIRTIO_NET_F_MAC", "VIRTIO_F_VERSION_1", "VIRTIO_RING_F_EVENT_IDX", "VIRTIO_BLK_F_RO"), "bit_N"
    /// and a plain bit number "N" (0..63). A device macro only matches its own class.
    /// </summary>
    public static bool TryGetBit(string name, VirtioDeviceClass deviceClass, out int bit)
    {
        bit = -1;
        if (string.IsNullOrWhiteSpace(name))
        {
            return false;
        }

        var text = name.Trim();
        if (TryParseBitNumber(text, out bit))
        {
            return true;
        }

        if (text.StartsWith("bit_", StringComparison.OrdinalIgnoreCase))
        {
            return TryParseBitNumber(text[4..], out bit);
        }

        var lookup = LookupFor(deviceClass);

        // Full macros: each prefix only reaches the table it belongs to, so VIRTIO_NET_F_MAC is not
        // blk bit 5 and VIRTIO_F_MAC is nothing.
        if (StripPrefix(text, "VIRTIO_F_", out var rest))
        {
            return lookup.Transport.TryGetValue(rest, out bit) || Fail(out bit);
        }

        if (StripPrefix(text, "VIRTIO_RING_F_", out rest))
        {
            return lookup.Transport.TryGetValue("RING_" + rest, out bit) || Fail(out bit);
        }

        if (StripPrefix(text, "VIRTIO_NET_F_", out rest))
        {
            return (deviceClass == VirtioDeviceClass.Net && lookup.Device.TryGetValue(rest, out bit)) || Fail(out bit);
        }

        if (StripPrefix(text, "VIRTIO_BLK_F_", out rest))
        {
            return (deviceClass == VirtioDeviceClass.Block && lookup.Device.TryGetValue(rest, out bit)) || Fail(out bit);
        }

        return lookup.Transport.TryGetValue(text, out bit) || lookup.Device.TryGetValue(text, out bit) || Fail(out bit);
    }

    /// <summary>
    /// The combined mask for feature names, bit numbers and hex masks ("0x300020000"). An entry may itself hold
    /// several, separated by commas or spaces. Throws <see cref="ArgumentException"/> naming the first unknown entry.
    /// </summary>
    public static ulong ParseMask(IEnumerable<string> items, VirtioDeviceClass deviceClass)
    {
        ArgumentNullException.ThrowIfNull(items);

        ulong mask = 0;
        foreach (var item in items)
        {
            var tokens = (item ?? string.Empty).Split(EntrySeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (tokens.Length == 0)
            {
                throw new ArgumentException("A virtio feature entry is empty.", nameof(items));
            }

            foreach (var token in tokens)
            {
                if (TryParseHexMask(token, out var value))
                {
                    mask |= value;
                }
                else if (TryGetBit(token, deviceClass, out var bit))
                {
                    mask |= 1UL << bit;
                }
                else
                {
                    throw new ArgumentException(
                        $"Unknown virtio feature '{token}' for device class {deviceClass}. " +
                        "Use a feature name, bit_N, a bit number 0..63 or a hex mask such as 0x300000000.",
                        nameof(items));
                }
            }
        }

        return mask;
    }

    /// <summary>Every short name known for the class (transport and class bits), sorted by bit; for tab completion.</summary>
    public static IReadOnlyList<string> GetKnownNames(VirtioDeviceClass deviceClass) => LookupFor(deviceClass).KnownNames;

    private static string?[]? ClassNames(VirtioDeviceClass deviceClass) => deviceClass switch
    {
        VirtioDeviceClass.Net => NetNames,
        VirtioDeviceClass.Block => BlockNames,
        _ => null,
    };

    private static Lookup LookupFor(VirtioDeviceClass deviceClass) => deviceClass switch
    {
        VirtioDeviceClass.Net => NetLookup,
        VirtioDeviceClass.Block => BlockLookup,
        _ => UnknownLookup,
    };

    // Strict: digits only (no sign, no spaces), so "64", "-1" and "1e3" are refused rather than wrapped.
    private static bool TryParseBitNumber(string text, out int bit)
    {
        bit = -1;
        if (text.Length is 0 or > 2 || !text.All(char.IsAsciiDigit))
        {
            return false;
        }

        var value = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        if (value >= BitCount)
        {
            return false;
        }

        bit = value;
        return true;
    }

    // "0x" then 1..16 hex digits; ulong.TryParse refuses anything else (signs, spaces, a second "0x", overflow).
    private static bool TryParseHexMask(string text, out ulong value)
    {
        value = 0;
        return text.Length > 2
            && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private static bool StripPrefix(string text, string prefix, out string rest)
    {
        if (text.Length > prefix.Length && text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            rest = text[prefix.Length..];
            return true;
        }

        rest = string.Empty;
        return false;
    }

    private static bool Fail(out int bit)
    {
        bit = -1;
        return false;
    }

    // Tables read like iproute2's designated initialisers ([VIRTIO_NET_F_MAC] = "MAC") but are indexed by bit.
    private static string?[] ByBit(params (int Bit, string Name)[] entries)
    {
        var table = new string?[BitCount];
        foreach (var (bit, name) in entries)
        {
            if (table[bit] is not null)
            {
                throw new InvalidOperationException($"Virtio feature bit {bit} is named twice.");
            }

            table[bit] = name;
        }

        return table;
    }

    private static Dictionary<string, int> NameIndex(string?[]? table, (int Bit, string Name)[] aliases)
    {
        var index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        if (table is not null)
        {
            for (var bit = 0; bit < BitCount; bit++)
            {
                if (table[bit] is { } name)
                {
                    index.Add(name, bit);
                }
            }
        }

        foreach (var (bit, name) in aliases)
        {
            index.Add(name, bit);
        }

        return index;
    }

    /// <summary>Case-insensitive name to bit maps for one device class, plus its completion list.</summary>
    private sealed class Lookup
    {
        public Lookup(string?[]? classNames, (int Bit, string Name)[] classAliases)
        {
            Transport = NameIndex(TransportNames, TransportAliases);
            Device = NameIndex(classNames, classAliases);

            var known = new List<string>();
            for (var bit = 0; bit < BitCount; bit++)
            {
                // A class name on a transport bit would be silently shadowed; refuse the table instead.
                if (TransportNames[bit] is not null && classNames?[bit] is not null)
                {
                    throw new InvalidOperationException($"Virtio feature bit {bit} is both a transport and a device bit.");
                }

                if ((TransportNames[bit] ?? classNames?[bit]) is { } name)
                {
                    known.Add(name);
                }
            }

            KnownNames = new ReadOnlyCollection<string>(known);
        }

        public Dictionary<string, int> Transport { get; }

        public Dictionary<string, int> Device { get; }

        public IReadOnlyList<string> KnownNames { get; }
    }
}

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// The one place a parent's name is compared. Users (and configuration files) name a parent as the kernel does
/// (pci/0000:00:10.0, vdpasim_net), in any case, by a bus parent's device part alone (0000:00:10.0,
/// mlx5_core.sf.1), or by a PCI address without its domain (00:10.0 for domain 0000). Every cmdlet, the configuration
/// reader, the diff and the read-back go through here, so they agree on what names the same parent.
/// </summary>
internal static class VdpaParentName
{
    private const string PciBus = "pci";

    /// <summary>
    /// The name in the kernel's form, from any spelling a user may give that needs no list of parents: a PCI address
    /// (with or without pci/, with or without its domain, any case) becomes pci/DDDD:BB:DD.F in lower case; any other
    /// name (vdpasim_net, vduse, auxiliary/mlx5_core.sf.1) is returned as it is.
    /// </summary>
    public static string Canonical(string name)
    {
        var (bus, device) = VdpaText.SplitParentName(name);
        if (bus is null || string.Equals(bus, PciBus, StringComparison.OrdinalIgnoreCase))
        {
            if (FullPciAddress(device) is { } address)
            {
                return $"{PciBus}/{address}";
            }
        }

        return name;
    }

    /// <summary>
    /// Whether two names the kernel gave (a parent's Name, a device's Parent) are one parent: the kernel writes a parent's
    /// name one way, so they are compared as written.
    /// </summary>
    public static bool Same(string kernelName, string otherKernelName) => string.Equals(kernelName, otherKernelName, StringComparison.Ordinal);

    /// <summary>
    /// Whether <paramref name="typed"/> names the parent the kernel calls <paramref name="kernelName"/>: the same name in
    /// canonical form (any case), or a bus parent's device part given alone.
    /// </summary>
    public static bool Matches(string typed, string kernelName)
    {
        if (string.Equals(Canonical(typed), Canonical(kernelName), StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return !typed.Contains('/') && VdpaText.SplitParentName(kernelName) is { BusName: not null } split &&
               string.Equals(typed, split.DeviceName, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The spellings a wildcard is tried against, the kernel's own first: for pci/0000:00:10.0 also 0000:00:10.0 and
    /// 00:10.0; for another bus parent its device part; a parent without a bus has only its name.
    /// </summary>
    public static IEnumerable<string> Spellings(string kernelName)
    {
        yield return kernelName;
        var (bus, device) = VdpaText.SplitParentName(kernelName);
        if (bus is null)
        {
            yield break;
        }

        yield return device;
        if (string.Equals(bus, PciBus, StringComparison.OrdinalIgnoreCase) && device.StartsWith("0000:", StringComparison.Ordinal) && IsShortPciAddress(device[5..]))
        {
            yield return device[5..];
        }
    }

    /// <summary>Whether any spelling of the kernel's name satisfies a (wildcard) test.</summary>
    public static bool AnySpelling(string kernelName, Func<string, bool> test) => Spellings(kernelName).Any(test);

    /// <summary>
    /// The parent a user means, among the kernel's: its own name first, then the one parent <see cref="Matches"/> finds.
    /// Null when none matches, or when a spelling is ambiguous (an address alone that two buses have).
    /// </summary>
    public static VdpaParent? Resolve(string typed, IEnumerable<VdpaParent> parents)
    {
        var all = parents as IReadOnlyList<VdpaParent> ?? [.. parents];
        if (all.FirstOrDefault(p => string.Equals(p.Name, typed, StringComparison.Ordinal)) is { } exact)
        {
            return exact;
        }

        var matching = all.Where(p => Matches(typed, p.Name)).Take(2).ToList();
        return matching.Count == 1 ? matching[0] : null;
    }

    /// <summary>DDDD:BB:DD.F in lower case from a full or short (BB:DD.F, domain 0) PCI address; null for anything else.</summary>
    internal static string? FullPciAddress(string text)
    {
        if (IsShortPciAddress(text))
        {
            return "0000:" + text.ToLowerInvariant();
        }

        return text.Length == 12 && text[4] == ':' && AllHex(text.AsSpan(0, 4)) && IsShortPciAddress(text[5..]) ? text.ToLowerInvariant() : null;
    }

    /// <summary>"00:10.0": bus:device.function, hex digits, function 0 to 7.</summary>
    private static bool IsShortPciAddress(string text) =>
        text.Length == 7 && text[2] == ':' && text[5] == '.' && AllHex(text.AsSpan(0, 2)) && AllHex(text.AsSpan(3, 2)) && text[6] is >= '0' and <= '7';

    private static bool AllHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!Uri.IsHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}

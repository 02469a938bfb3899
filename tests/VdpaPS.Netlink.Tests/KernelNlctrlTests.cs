using System.Diagnostics;
using System.Text.RegularExpressions;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

/// <summary>The core against this machine's own kernel: nlctrl and the families it has (it has no vdpa).</summary>
public sealed partial class KernelNlctrlTests : IDisposable
{
    private readonly NetlinkConnection _connection = NetlinkConnection.OpenGeneric();

    [Fact]
    public void SocketIsBoundToAKernelAssignedPort()
    {
        Assert.NotEqual(0u, _connection.PortId);
    }

    [Fact]
    public void ResolvesNlctrlItself()
    {
        var family = GenericNetlinkController.GetFamily(_connection, "nlctrl");

        Assert.Equal("nlctrl", family.Name);
        Assert.Equal(GenericNetlinkController.FamilyId, family.Id);
        Assert.True(family.TryGetOperation(3, out var getFamily));
        Assert.True(getFamily.Flags.HasFlag(GenericOperationFlags.Do));
        Assert.True(getFamily.Flags.HasFlag(GenericOperationFlags.Dump));
        Assert.Contains(family.MulticastGroups, g => g.Name == "notify");
        // iproute2 prints "Capabilities (0xe)" for nlctrl's GETFAMILY: do, dump, has policy.
        Assert.Equal(GenericOperationFlags.Do | GenericOperationFlags.Dump | GenericOperationFlags.HasPolicy, getFamily.Flags);
    }

    [Theory]
    [InlineData("ethtool")]
    [InlineData("netdev")]
    public void ResolvesOtherFamiliesTheSameWayIproute2Does(string name)
    {
        var expected = ReadIproute2Families().Single(f => f.StartsWith(name + " ", StringComparison.Ordinal));

        var family = GenericNetlinkController.GetFamily(_connection, name);

        Assert.Equal(expected, Describe(family));
    }

    [Fact]
    public void DumpOfAllFamiliesMatchesIproute2()
    {
        var expected = ReadIproute2Families();

        var families = GenericNetlinkController.ListFamilies(_connection);

        Assert.True(families.Count >= 3, $"only {families.Count} families");
        Assert.Equal(expected, families.Select(Describe).ToList());
    }

    [Fact]
    public void VdpaIsNotPresentHereAndSaysSo()
    {
        var e = Assert.Throws<FamilyNotFoundException>(() => GenericNetlinkController.GetFamily(_connection, "vdpa"));

        Assert.Equal("vdpa", e.Family);
        Assert.Equal(LinuxErrno.ENOENT, e.Errno);
        Assert.Contains("'vdpa'", e.Message);
    }

    [Fact]
    public void KernelErrorArrivesWithItsExtendedAckText()
    {
        var ethtool = GenericNetlinkController.GetFamily(_connection, "ethtool");
        const byte linkInfoGet = 2; // ETHTOOL_MSG_LINKINFO_GET
        const ushort linkInfoHeader = 1, headerDeviceName = 2;

        var e = Assert.Throws<NetlinkException>(() => _connection.Execute(
            new GenericRequest(ethtool.Id, linkInfoGet, 1, Dump: false, "ethtool LINKINFO_GET"),
            w =>
            {
                var nest = w.BeginNested(linkInfoHeader);
                w.WriteString(headerDeviceName, "nosuchdev0");
                w.EndNested(nest);
            },
            onReply: null));

        Assert.Equal(LinuxErrno.ENODEV, e.Errno);
        Assert.Equal("no device matches name", e.ExtAckMessage);
        // The kernel points at the name attribute: 16 + 4 bytes of headers, then the nest's own header.
        Assert.Equal(24, e.ExtAckOffset);
        Assert.Equal("ethtool LINKINFO_GET", e.Operation);
        Assert.Contains("no device matches name", e.Message);
        Assert.Contains("ENODEV", e.Message);
    }

    [Fact]
    public void SuccessfulRequestIsAcknowledgedAndTheConnectionStaysUsable()
    {
        var replies = 0;
        var ack = _connection.Execute(
            new GenericRequest(GenericNetlinkController.FamilyId, 3, 1, Dump: false, "nlctrl GETFAMILY"),
            w => w.WriteString(2, "nlctrl"),
            (command, _) => replies++);

        Assert.Equal(1, replies);
        Assert.Equal(1, ack.ReplyCount);
        Assert.Null(ack.Warning);
        // An error in between must not leave anything behind that the next request would read.
        Assert.Throws<FamilyNotFoundException>(() => GenericNetlinkController.GetFamily(_connection, "vdpa"));
        Assert.Equal("nlctrl", GenericNetlinkController.GetFamily(_connection, "nlctrl").Name);
    }

    [Fact]
    public void TraceDescribesWhatWasSentAndReceived()
    {
        var lines = new List<string>();
        _connection.Trace += lines.Add;

        GenericNetlinkController.GetFamily(_connection, "nlctrl");

        Assert.Single(lines);
        Assert.Matches(@"^nlctrl GETFAMILY: sent \d+ bytes \(seq \d+\); received 1 reply\.$", lines[0]);
    }

    [Fact]
    public void FamilyCacheResolvesOnceAndDoesNotCacheFailures()
    {
        var cache = new GenericFamilyCache();
        var first = cache.Resolve(_connection, "nlctrl");
        Assert.Same(first, cache.Resolve(_connection, "nlctrl"));
        Assert.Throws<FamilyNotFoundException>(() => cache.Resolve(_connection, "vdpa"));
        Assert.Throws<FamilyNotFoundException>(() => cache.Resolve(_connection, "vdpa"));
    }

    private static string Describe(GenericNetlinkFamily f) =>
        $"{f.Name} id=0x{f.Id:x} version=0x{f.Version:x} hdr={f.HeaderSize} maxattr={f.MaxAttribute} " +
        $"ops=[{string.Join(",", f.Operations.Select(o => $"0x{o.Command:x}"))}] " +
        $"groups=[{string.Join(",", f.MulticastGroups.Select(g => $"0x{g.Id:x}:{g.Name}"))}]";

    /// <summary>Parses `genl ctrl list` (iproute2) into the same one-line descriptions.</summary>
    private static List<string> ReadIproute2Families()
    {
        var psi = new ProcessStartInfo("genl", "ctrl list") { RedirectStandardOutput = true };
        using var process = Process.Start(psi)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);

        var result = new List<string>();
        foreach (var block in text.Split("Name: ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var name = block[..block.IndexOf('\n')].Trim();
            var head = HeaderLine().Match(block);
            Assert.True(head.Success, block);
            var ops = OperationLine().Matches(block).Select(m => $"0x{Convert.ToUInt32(m.Groups[1].Value, 16):x}");
            var groups = GroupLine().Matches(block).Select(m => $"0x{Convert.ToUInt32(m.Groups[1].Value, 16):x}:{m.Groups[2].Value}");
            result.Add($"{name} id=0x{Convert.ToUInt32(head.Groups[1].Value, 16):x} version=0x{Convert.ToUInt32(head.Groups[2].Value, 16):x} " +
                $"hdr={head.Groups[3].Value} maxattr={head.Groups[4].Value} ops=[{string.Join(",", ops)}] groups=[{string.Join(",", groups)}]");
        }

        return result;
    }

    [GeneratedRegex(@"ID: 0x([0-9a-f]+)\s+Version: 0x([0-9a-f]+)\s+header size: (\d+)\s+max attribs: (\d+)")]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"#\d+:\s+ID-0x([0-9a-f]+)[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex OperationLine();

    [GeneratedRegex(@"#\d+:\s+ID-0x([0-9a-f]+)\s+name: (\S+)", RegexOptions.Multiline)]
    private static partial Regex GroupLine();

    public void Dispose() => _connection.Dispose();
}

using System.Text.Json;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The client and decoders on conversations recorded from the lab's Linux 6.1 (Fixtures/6.1, Debian's 6.1.0-57 with
/// the vdpa core built from linux-source-6.1), against what iproute2 printed in the same boot: the family's own
/// description decides that attribute 21 is device features there, and what 6.1 cannot do is named with its release.
/// </summary>
public sealed class Linux61FixtureTests
{
    [Fact]
    public void TheFamilyDescribesItselfAs61()
    {
        using var client = Replay("dev-get-net", out _);

        Assert.Equal("fxnet0", client.GetDevice("fxnet0").Name);
        Assert.Equal(22u, client.Family.MaxAttribute);
        Assert.False(client.Supports(VdpaCommand.DeviceAttributeSet));
        Assert.True(client.Supports(VdpaCommand.DeviceVendorStatsGet));
        Assert.Equal(VdpaAttribute21Meaning.DeviceFeatures, client.Capabilities.Attribute21);
        Assert.Equal("Linux 6.1", client.Capabilities.KernelRange);
        Assert.False(client.Capabilities.Supports(VdpaCapability.BlockConfig));
    }

    [Fact]
    public void NetConfigCarriesItsDeviceFeaturesInAttribute21()
    {
        using var client = Replay("config-get-net", out _);
        var json = Iproute2("config-get-net").GetProperty("config").GetProperty("fxnet0");

        var config = Assert.IsType<VdpaNetDeviceConfig>(client.GetConfig("fxnet0"));

        Assert.Equal(json.GetProperty("mac").GetString(), config.MacAddress);
        Assert.Equal(json.GetProperty("link ").GetString() == "up", config.LinkUp);
        Assert.Equal(json.GetProperty("mtu").GetUInt16(), config.Mtu);
        var negotiated = json.GetProperty("negotiated_features").EnumerateArray().Select(f => f.GetString()).ToList();
        Assert.Equal(negotiated, config.NegotiatedFeatures);
        // What iproute2 does not print: the device's features, which the driver's negotiated ones are a subset of.
        Assert.NotNull(config.DeviceFeatureMask);
        Assert.Equal(config.NegotiatedFeatureMask!.Value, config.NegotiatedFeatureMask & config.DeviceFeatureMask);
        Assert.Contains("MAC", config.DeviceFeatures);
        Assert.Contains("MTU", config.DeviceFeatures);
        // 6.1's vdpasim_net offers no STATUS.
        Assert.DoesNotContain("STATUS", config.DeviceFeatures);
    }

    [Fact]
    public void ReadAsA69FamilyWouldTheFeaturesWouldBeLost()
    {
        // The same reply bytes through a 6.12 family's meaning: 21 is a block capacity, which a net config drops.
        var replies = NetlinkRecording.Parse(File.ReadLines(FixturePath("config-get-net.nlrec"))).Where(s => !s.Sent).ToList();
        var reply = replies[2].Datagram.AsSpan(16 + 4, replies[2].Datagram.Length - 20);

        var as69 = VdpaDecoder.DecodeConfig(reply, VdpaFamilyCapabilities.Current);

        Assert.Null(as69.DeviceFeatureMask);
    }

    [Fact]
    public void ParentsAndDevicesDecodeAsIproute2ShowsThem()
    {
        using var parents = Replay("mgmtdev-dump", out _);
        var expected = Iproute2("mgmtdev-dump").GetProperty("mgmtdev");
        var list = parents.GetParents();
        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), list.Select(p => p.Name));
        foreach (var parent in list.Where(p => p.SupportedClasses is [VirtioDeviceClass.Net]))
        {
            Assert.Equal(expected.GetProperty(parent.Name).GetProperty("dev_features").EnumerateArray().Select(f => f.GetString()), parent.SupportedFeatures);
        }

        using var devices = Replay("dev-dump", out _);
        var dev = Iproute2("dev-dump").GetProperty("dev");
        Assert.Equal(dev.EnumerateObject().Select(p => p.Name), devices.GetDevices().Select(d => d.Name));
    }

    [Fact]
    public void TheConfigDumpStopsAtTheBlockDeviceAndTheListingSaysWhich()
    {
        // The two dumps as 6.1 answered them in one boot: the config dump ends at fxblk0, the device dump lists it.
        var family = FamilyOf("config-dump");
        var script = Steps("config-dump").Concat(Steps("dev-dump")).ToList();
        using var client = new VdpaClient(new NetlinkConnection(new ReplayTransport(script)), family);

        var listing = client.GetConfigListing();

        Assert.Equal(["fxnet0"], listing.Configs.Select(c => c.Name));
        Assert.Equal(["fxblk0"], listing.Missing);
        // iproute2 saw the same truncated dump.
        Assert.Equal(["fxnet0"], Iproute2("config-dump").GetProperty("config").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void ABlockConfigIsRefusedAsBlockConfigurationFromLinux69()
    {
        // 6.1 answers EOPNOTSUPP (recorded); the client then asks DEV_GET, which says block (a reply in the uAPI layout).
        var family = FamilyOf("config-get-block");
        var script = Steps("config-get-block").ToList();
        // The DEV_GET request's place: a header with sequence 0, which the replay maps to the request's.
        script.Add((true, new byte[16]));
        script.Add((false, KernelCapabilityTests.Reply(family.Id, 5,
            (VdpaAttribute.DeviceName, KernelCapabilityTests.Str("fxblk0")), (VdpaAttribute.VirtioDeviceId, KernelCapabilityTests.U32(2)))));
        script.Add((false, KernelCapabilityTests.Error(0)));
        using var client = new VdpaClient(new NetlinkConnection(new ReplayTransport(script) { CheckRequests = false }), family);

        var e = Assert.Throws<VdpaCapabilityException>(() => client.GetConfig("fxblk0"));

        Assert.Equal(VdpaCapability.BlockConfig, e.Capability.Capability);
        Assert.Contains("Linux 6.9", e.Message);
        Assert.Equal(LinuxErrno.EOPNOTSUPP, Assert.IsAssignableFrom<NetlinkException>(e.InnerException).Errno);
    }

    [Fact]
    public void DevAttrSetIsRefusedBeforeSendingWhatTheKernelWouldRefuse()
    {
        // The recording holds 6.1's own answer to a raw DEV_ATTR_SET: EOPNOTSUPP. The client does not send it.
        var recorded = Steps("dev-set-mac").Where(s => !s.Sent).Last().Datagram;
        Assert.Equal(-LinuxErrno.EOPNOTSUPP, BitConverter.ToInt32(recorded, 16));
        // The recorded DEV_ATTR_SET and its answer stay unread: that they are never sent is the point.
        using var client = Replay("dev-set-mac", out var transport, requireAllConsumed: false);

        var e = Assert.Throws<VdpaCapabilityException>(() => client.SetMacAddress("fxnet0", [2, 0, 0, 0, 0, 0x22]));

        Assert.Contains("DEV_ATTR_SET, which came in Linux 6.12", e.Message);
        Assert.Single(transport.Sent); // nlctrl's GETFAMILY only
    }

    [Theory]
    [InlineData("vstats-net-q0", 0u)]
    [InlineData("vstats-net-q2", 2u)]
    public void VdpasimNetKeepsNoStatisticsOn61(string fixture, uint queue)
    {
        using var client = Replay(fixture, out _);

        var e = Assert.ThrowsAny<NetlinkException>(() => client.GetQueueStatistics("fxnet0", queue));

        Assert.Equal(LinuxErrno.EOPNOTSUPP, e.Errno);
        Assert.Null(e.ExtAckMessage);
        Assert.Empty(Iproute2(fixture).GetProperty("vstats").EnumerateObject());
    }

    [Theory]
    [InlineData("error-dev-new-max-vqp", 95, "vdpa: All provided attributes are not supported")]
    [InlineData("error-vstats-qidx-40000", 34, "vdpa: queue index excceeds max value")]
    [InlineData("error-dev-new-unknown-parent", 19, "vdpa: Fail to find the specified management device")]
    public void RefusalsKeep61sOwnErrnoAndText(string fixture, int errno, string extAck)
    {
        using var client = Replay(fixture, out _);

        var e = Assert.ThrowsAny<NetlinkException>(() =>
        {
            switch (fixture)
            {
                case "error-dev-new-max-vqp": client.CreateDevice(new VdpaDeviceSpec { Name = "fxvqp", Parent = "vdpasim_net", MaxQueuePairs = 2 }); break;
                case "error-vstats-qidx-40000": client.GetQueueStatistics("fxnet0", 40000); break;
                default: client.CreateDevice(new VdpaDeviceSpec { Name = "fxnew", Parent = "nosuchparent" }); break;
            }
        });

        Assert.Equal(errno, e.Errno);
        Assert.Equal(extAck, e.ExtAckMessage);
    }

    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "6.1", name);

    private static VdpaClient Replay(string fixture, out ReplayTransport transport, bool requireAllConsumed = true)
    {
        transport = new ReplayTransport(NetlinkRecording.Parse(File.ReadLines(FixturePath(fixture + ".nlrec")))) { RequireAllConsumed = requireAllConsumed };
        return new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
    }

    /// <summary>The recording's vdpa conversation, without the nlctrl lookup it starts with.</summary>
    private static IEnumerable<(bool Sent, byte[] Datagram)> Steps(string fixture) =>
        NetlinkRecording.Parse(File.ReadLines(FixturePath(fixture + ".nlrec"))).Skip(3);

    private static GenericNetlinkFamily FamilyOf(string fixture)
    {
        var lookup = NetlinkRecording.Parse(File.ReadLines(FixturePath(fixture + ".nlrec"))).Take(3);
        return GenericNetlinkController.GetFamily(new NetlinkConnection(new ReplayTransport(lookup)), "vdpa");
    }

    private static JsonElement Iproute2(string fixture) =>
        JsonDocument.Parse(File.ReadAllText(FixturePath(fixture + ".iproute2.json"))).RootElement;
}

using System.Text.Json;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The vdpa client and decoders on conversations recorded from the lab's 6.12 kernel (tests/VdpaPS.FixtureRecorder),
/// compared with what iproute2's `vdpa -j` printed for the same kernel state in the same boot.
/// </summary>
public sealed class VdpaFixtureTests
{
    [Fact]
    public void ParentsDecodeAsIproute2ShowsThem()
    {
        using var client = Replay("mgmtdev-dump", out var transport);
        var expected = Iproute2("mgmtdev-dump").GetProperty("mgmtdev");

        var parents = client.GetParents();

        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), parents.Select(p => p.Name));
        foreach (var parent in parents)
        {
            var json = expected.GetProperty(parent.Name);
            Assert.Equal(json.GetProperty("supported_classes").EnumerateArray().Select(c => c.GetString()),
                parent.SupportedClasses.Select(c => c == VirtioDeviceClass.Block ? "block" : "net"));
            Assert.Equal(json.GetProperty("max_supported_vqs").GetUInt32(), parent.MaxQueues);
            Assert.Equal(json.GetProperty("dev_features").EnumerateArray().Select(f => f.GetString()), parent.SupportedFeatures);
            Assert.Null(parent.BusName);
        }

        Assert.Equal(0, transport.Remaining);
    }

    [Fact]
    public void OneParentByName()
    {
        using var client = Replay("mgmtdev-get-vdpasim_net", out _);

        var parent = client.GetParent("vdpasim_net");

        Assert.Equal("vdpasim_net", parent.Name);
        Assert.Equal([VirtioDeviceClass.Net], parent.SupportedClasses);
        Assert.Equal(0x308830028ul, parent.SupportedFeatureMask);
    }

    [Fact]
    public void FindParentAsksForTheKernelsOwnNameWithoutADump()
    {
        // The recording holds one MGMTDEV_GET and no dump: the strict replay fails on any other request.
        using var client = Replay("mgmtdev-get-vdpasim_net", out var transport);

        var parent = client.FindParent("vdpasim_net");

        Assert.Equal("vdpasim_net", parent?.Name);
        Assert.Equal(0, transport.Remaining);
    }

    [Fact]
    public void FindParentResolvesAnotherSpellingFromTheDump()
    {
        // The kernel's ENODEV for the name as typed, then the recorded dump: the typed name resolves against the list.
        var recorded = NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "mgmtdev-dump.nlrec"))).ToList();
        using var transport = new ReplayTransport([.. recorded.Take(3), (true, new byte[20]), (false, KernelCapabilityTests.Error(LinuxErrno.ENODEV)),
            .. recorded.Skip(3)]) { CheckRequests = false };
        using var client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache());

        var parent = client.FindParent("VDPASIM_NET");

        Assert.Equal("vdpasim_net", parent?.Name);
        // After nlctrl: MGMTDEV_GET (2) for the name, then its dump (NLM_F_DUMP, 0x300, in the header's flags).
        Assert.Equal([2, 2], transport.Sent.Skip(1).Select(d => d[16]));
        Assert.Equal([false, true], transport.Sent.Skip(1).Select(d => (BitConverter.ToUInt16(d, 6) & 0x300) == 0x300));
    }

    [Fact]
    public void DevicesDecodeAsIproute2ShowsThem()
    {
        using var client = Replay("dev-dump", out _);
        var expected = Iproute2("dev-dump").GetProperty("dev");

        var devices = client.GetDevices();

        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), devices.Select(d => d.Name));
        foreach (var device in devices)
        {
            var json = expected.GetProperty(device.Name);
            Assert.Equal(json.GetProperty("type").GetString(), device.Type == VirtioDeviceClass.Net ? "network" : "block");
            Assert.Equal(json.GetProperty("mgmtdev").GetString(), device.Parent);
            Assert.Equal(json.GetProperty("vendor_id").GetUInt32(), device.VendorId);
            Assert.Equal(json.GetProperty("max_vqs").GetUInt32(), device.MaxQueues);
            Assert.Equal(json.GetProperty("max_vq_size").GetUInt16(), device.MaxQueueSize);
            // iproute2 does not print it, but 6.12 sends it.
            Assert.NotNull(device.MinQueueSize);
        }
    }

    [Fact]
    public void NetConfigDecodesAsIproute2ShowsIt()
    {
        using var client = Replay("config-get-net", out _);
        var json = Iproute2("config-get-net").GetProperty("config").GetProperty("fxnet0");

        var config = Assert.IsType<VdpaNetDeviceConfig>(client.GetConfig("fxnet0"));

        Assert.Equal(json.GetProperty("mac").GetString(), config.MacAddress);
        Assert.Equal(json.GetProperty("link ").GetString() == "up", config.LinkUp);
        Assert.Equal(json.GetProperty("link_announce ").GetBoolean(), config.LinkAnnounce);
        Assert.Equal(json.GetProperty("mtu").GetUInt16(), config.Mtu);
        Assert.Equal(json.GetProperty("negotiated_features").EnumerateArray().Select(f => f.GetString()), config.NegotiatedFeatures);
        // Device features are sent by 6.12 but iproute2 6.1 does not print them: the provisioned ones include MAC and MTU.
        Assert.Contains("MAC", config.DeviceFeatures);
        Assert.Contains("MTU", config.DeviceFeatures);
        // No MAX_VQP without MQ: one pair, as the docs say, and not shown by the kernel (a configuration file leaves it out).
        Assert.Equal((ushort?)1, config.MaxQueuePairs);
        Assert.False(config.ShowsMaxQueuePairs);
    }

    [Fact]
    public void BlockConfigDecodesWhatIproute2CannotShow()
    {
        using var client = Replay("config-get-block", out _);

        var config = Assert.IsType<VdpaBlockDeviceConfig>(client.GetConfig("fxblk0"));

        Assert.Equal(VirtioDeviceClass.Block, config.Type);
        // vdpa_sim_blk: 128 MiB in 512-byte sectors, 512-byte blocks, read-write, flush offered.
        Assert.Equal(0x40000ul, config.Capacity);
        Assert.Equal(128ul * 1024 * 1024, config.CapacityBytes);
        Assert.Equal(512u, config.BlockSize);
        Assert.False(config.ReadOnly);
        Assert.NotNull(config.Flush);
        Assert.Contains("BLK_SIZE", config.DeviceFeatures);
    }

    [Fact]
    public void ConfigDumpHasNetAndBlock()
    {
        using var client = Replay("config-dump", out _);

        var configs = client.GetConfigs();

        Assert.Collection(configs,
            c => Assert.IsType<VdpaNetDeviceConfig>(c),
            c => Assert.IsType<VdpaBlockDeviceConfig>(c));
    }

    [Theory]
    [InlineData(0, VdpaQueueType.Rx)]
    [InlineData(1, VdpaQueueType.Tx)]
    [InlineData(2, VdpaQueueType.Control)]
    public void QueueStatisticsKeepCounterOrderAndLabelQueuesRight(uint queue, VdpaQueueType type)
    {
        using var client = Replay($"vstats-net-q{queue}", out _);
        var json = Iproute2($"vstats-net-q{queue}").GetProperty("vstats").GetProperty("fxnet0");

        var stats = client.GetQueueStatistics("fxnet0", queue);

        Assert.Equal(queue, stats.QueueIndex);
        // Without MQ the kernel omits MAX_VQP: one pair. iproute2 6.1 mislabels these queues; VdpaPS does not.
        Assert.Equal(1, stats.QueuePairs);
        Assert.Equal(type, stats.QueueType);
        var counters = json.EnumerateObject().Where(p => p.Name != "queue_type").ToList();
        Assert.Equal(counters.Select(c => c.Name), stats.Counters.Select(c => c.Name));
        Assert.Equal(counters.Select(c => c.Value.GetUInt64()), stats.Counters.Select(c => c.Value));
    }

    [Theory]
    [InlineData("error-dev-get-unknown", 19, "vdpa: device not found")]
    [InlineData("error-dev-new-duplicate", 17, null)]
    [InlineData("error-dev-new-unknown-parent", 19, "vdpa: Fail to find the specified management device")]
    [InlineData("error-dev-new-max-vqp", 95, "vdpa: Some provided attributes are not supported: 0x1000")]
    [InlineData("error-dev-new-mtu-10", 34, "integer out of range")]
    [InlineData("error-vstats-qidx-40000", 34, "vdpa: queue index exceeds max value")]
    public void KernelRefusalsKeepTheirErrnoAndText(string fixture, int errno, string? extAck)
    {
        using var client = Replay(fixture, out _);

        var e = Assert.ThrowsAny<NetlinkException>(() =>
        {
            switch (fixture)
            {
                case "error-dev-get-unknown": client.GetDevice("nosuchdev"); break;
                case "error-dev-new-duplicate": client.CreateDevice(new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net" }); break;
                case "error-dev-new-unknown-parent": client.CreateDevice(new VdpaDeviceSpec { Name = "fxnew", Parent = "nosuchparent" }); break;
                case "error-dev-new-max-vqp": client.CreateDevice(new VdpaDeviceSpec { Name = "fxvqp", Parent = "vdpasim_net", MaxQueuePairs = 2 }); break;
                case "error-dev-new-mtu-10": client.CreateDevice(new VdpaDeviceSpec { Name = "fxmtu", Parent = "vdpasim_net", Mtu = 10 }); break;
                case "error-vstats-qidx-40000": client.GetQueueStatistics("fxnet0", 40000); break;
            }
        });

        Assert.Equal(errno, e.Errno);
        Assert.Equal(extAck, e.ExtAckMessage);
    }

    [Fact]
    public void ChangesAreAcknowledged()
    {
        using (var create = Replay("dev-new-net", out var sent))
        {
            create.CreateDevice(new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x11], Mtu = 9000 });
            Assert.Equal(0, sent.Remaining);
        }

        using (var set = Replay("dev-set-mac", out var sent))
        {
            set.SetMacAddress("fxnet0", [2, 0, 0, 0, 0, 0x22]);
            Assert.Equal(0, sent.Remaining);
        }

        using var delete = Replay("dev-del-net", out var deleted);
        delete.DeleteDevice("fxnet0");
        Assert.Equal(0, deleted.Remaining);
    }

    [Fact]
    public void RequestsFollowTheUapiLayout()
    {
        // Each request built here from linux/netlink.h, linux/genetlink.h and linux/vdpa.h, not by the project's
        // encoder: nlmsghdr (len, type, flags NLM_F_REQUEST|NLM_F_ACK = 0x5, seq, pid 0), genlmsghdr (cmd, version 1),
        // then each attribute (nla_len, nla_type, payload padded to 4 bytes). 0x23 is the id the recorded kernel gave
        // the vdpa family; 0x10 is GENL_ID_CTRL.
        var lookup = Uapi(0x10, 3, Attr(2, "vdpa\0"u8));   // CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME
        using (var create = Replay("dev-new-net", out var sent))
        {
            create.CreateDevice(new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x11], Mtu = 9000 });
            // VDPA_CMD_DEV_NEW (3): DEV_NAME (4), MGMTDEV_DEV_NAME (2), DEV_NET_CFG_MACADDR (10), DEV_NET_CFG_MTU (13, u16).
            AssertSent([lookup, Uapi(0x23, 3, Attr(4, "fxnet0\0"u8), Attr(2, "vdpasim_net\0"u8), Attr(10, [2, 0, 0, 0, 0, 0x11]), Attr(13, [0x28, 0x23]))], sent.Sent);
        }

        using (var set = Replay("dev-set-mac", out var sent))
        {
            set.SetMacAddress("fxnet0", [2, 0, 0, 0, 0, 0x22]);
            // VDPA_CMD_DEV_ATTR_SET (8): DEV_NAME (4), DEV_NET_CFG_MACADDR (10).
            AssertSent([lookup, Uapi(0x23, 8, Attr(4, "fxnet0\0"u8), Attr(10, [2, 0, 0, 0, 0, 0x22]))], sent.Sent);
        }

        using var delete = Replay("dev-del-net", out var deleted);
        delete.DeleteDevice("fxnet0");
        // VDPA_CMD_DEV_DEL (4): DEV_NAME (4).
        AssertSent([lookup, Uapi(0x23, 4, Attr(4, "fxnet0\0"u8))], deleted.Sent);
    }

    internal static byte[] Attr(ushort type, ReadOnlySpan<byte> payload)
    {
        var attribute = new byte[(4 + payload.Length + 3) & ~3];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(attribute, (ushort)(4 + payload.Length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(attribute.AsSpan(2), type);
        payload.CopyTo(attribute.AsSpan(4));
        return attribute;
    }

    internal static byte[] Uapi(ushort type, byte command, params byte[][] attributes)
    {
        byte[] message = [.. new byte[16], command, 1, 0, 0, .. attributes.SelectMany(a => a)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), 0x1 | 0x4);
        return message;
    }

    private static void AssertSent(byte[][] expected, List<byte[]> sent)
    {
        Assert.Equal(expected.Length, sent.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            // The sequence number is the connection's own; every other byte is the layout's.
            var actual = (byte[])sent[i].Clone();
            actual.AsSpan(8, 4).Clear();
            Assert.Equal(Convert.ToHexString(expected[i]), Convert.ToHexString(actual));
        }
    }

    [Fact]
    public void FamilyDescriptionListsTheCommandsAndMaxAttribute()
    {
        using var client = Replay("dev-get-net", out _);
        // The recording goes on with the device itself; read it so every recorded reply is used.
        var device = client.GetDevice("fxnet0");
        Assert.Equal(Iproute2("dev-get-net").GetProperty("dev").GetProperty("fxnet0").GetProperty("mgmtdev").GetString(), device.Parent);

        Assert.Equal("vdpa", client.Family.Name);
        // VDPA_ATTR_MAX: one past BLK_FLUSH (36), the last attribute 6.12 knows.
        Assert.Equal(37u, client.Family.MaxAttribute);
        Assert.True(client.SupportsAttribute(VdpaAttribute.BlockFlush));
        Assert.False(client.SupportsAttribute(37));
        foreach (var command in new[] { VdpaCommand.ManagementDeviceGet, VdpaCommand.DeviceNew, VdpaCommand.DeviceDelete, VdpaCommand.DeviceGet,
            VdpaCommand.DeviceConfigGet, VdpaCommand.DeviceVendorStatsGet, VdpaCommand.DeviceAttributeSet })
        {
            Assert.True(client.Supports(command), command.ToString());
        }

        Assert.True(client.Family.TryGetOperation((uint)VdpaCommand.DeviceNew, out var create));
        Assert.True(create.Flags.HasFlag(GenericOperationFlags.AdminPermission));
        Assert.True(client.Family.TryGetOperation((uint)VdpaCommand.DeviceGet, out var get));
        Assert.False(get.Flags.HasFlag(GenericOperationFlags.AdminPermission));
    }

    private static VdpaClient Replay(string fixture, out ReplayTransport transport)
    {
        transport = ReplayTransport.FromFixture(fixture + ".nlrec");
        return new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
    }

    private static JsonElement Iproute2(string fixture) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture + ".iproute2.json"))).RootElement;
}

/// <summary>An older kernel's family lacks commands and attributes: the client says so instead of sending blindly.</summary>
public sealed class VdpaCapabilityTests
{
    [Fact]
    public void CommandTheFamilyLacksFailsBeforeAnythingIsSent()
    {
        var live = ReplayTransport.FromFixture("dev-set-mac.nlrec");
        var family = GenericNetlinkController.GetFamily(new NetlinkConnection(live), "vdpa");
        // As a 6.11 kernel describes the family: everything but DEV_ATTR_SET.
        var older = family with { Operations = [.. family.Operations.Where(o => o.Command != (uint)VdpaCommand.DeviceAttributeSet)] };
        var silent = new ReplayTransport([]);
        using var client = new VdpaClient(new NetlinkConnection(silent), older);

        var e = Assert.Throws<VdpaCapabilityException>(() => client.SetMacAddress("fxnet0", [2, 0, 0, 0, 0, 0x22]));

        Assert.Equal(LinuxErrno.EOPNOTSUPP, e.Errno);
        Assert.Contains("needs DEV_ATTR_SET, which came in Linux 6.12", e.Message);
        Assert.Empty(silent.Sent);
        Assert.False(client.Supports(VdpaCommand.DeviceAttributeSet));
    }

    [Fact]
    public void DumpOfACommandThatOnlyHasDoIsRefused()
    {
        var live = ReplayTransport.FromFixture("dev-get-net.nlrec");
        var family = GenericNetlinkController.GetFamily(new NetlinkConnection(live), "vdpa");
        var doOnly = family with
        {
            Operations = [.. family.Operations.Select(o => o.Command == (uint)VdpaCommand.DeviceGet ? o with { Flags = o.Flags & ~GenericOperationFlags.Dump } : o)],
        };
        using var client = new VdpaClient(new NetlinkConnection(new ReplayTransport([])), doOnly);

        Assert.Throws<NetlinkException>(() => client.GetDevices());
    }

    [Fact]
    public void AttributesAboveMaxAttrAreNamedAsUnknown()
    {
        var live = ReplayTransport.FromFixture("dev-get-net.nlrec");
        var family = GenericNetlinkController.GetFamily(new NetlinkConnection(live), "vdpa");
        // A 5.17 kernel: MTU (13) known, DEV_FEATURES (20) not yet.
        using var client = new VdpaClient(new NetlinkConnection(new ReplayTransport([])), family with { MaxAttribute = 16 });

        var unknown = client.UnknownAttributes(new VdpaDeviceSpec { Name = "x", Parent = "vdpasim_net", Mtu = 1500, Features = 1 });

        Assert.Equal([VdpaAttribute.DeviceFeatures], unknown);
    }
}

using System.Buffers.Binary;
using System.Text;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// What each kernel's vdpa family can do and means, decided from nlctrl's description (ops and maxattr): the
/// families of 6.0, 6.1, 6.2-6.8, 6.9-6.11 and 6.12 as their uAPI headers describe them, with hand-built replies in the
/// uAPI's byte layout where no recording exists.
/// </summary>
public sealed class KernelCapabilityTests
{
    // maxattr per release: VDPA_ATTR_MAX, one past the last attribute of include/uapi/linux/vdpa.h.
    [Theory]
    [InlineData(20u, false, (int)VdpaAttribute21Meaning.None, "Linux 5.19 or 6.0")]
    [InlineData(22u, false, (int)VdpaAttribute21Meaning.DeviceFeatures, "Linux 6.1")]
    [InlineData(21u, false, (int)VdpaAttribute21Meaning.None, "Linux 6.2 to 6.8")]
    [InlineData(37u, false, (int)VdpaAttribute21Meaning.BlockCapacity, "Linux 6.9 to 6.11")]
    [InlineData(37u, true, (int)VdpaAttribute21Meaning.BlockCapacity, "Linux 6.12 or later")]
    // The enum is internal to the core; xUnit's public test methods take its number.
    public void TheFamilyDecidesWhatAttribute21Means(uint maxAttribute, bool attributeSet, int meaningValue, string range)
    {
        var meaning = (VdpaAttribute21Meaning)meaningValue;
        var family = Family(maxAttribute, attributeSet);

        Assert.Equal(meaning, family.Attribute21);
        Assert.Equal(range, family.KernelRange);
        Assert.Equal(meaning == VdpaAttribute21Meaning.BlockCapacity, family.Supports(VdpaCapability.BlockConfig));
        Assert.Equal(attributeSet, family.Supports(VdpaCapability.SetAttributes));
        Assert.Equal(maxAttribute > VdpaAttribute.DeviceFeatures, family.Supports(VdpaCapability.DeviceFeatureProvisioning));
    }

    [Fact]
    public void TheCatalogNamesEveryAttributeOnceWithTheReleaseThatAddedIt()
    {
        // Every number 1..36 has one current description; 21 has a second one, for 6.1 alone.
        for (ushort id = 1; id <= VdpaAttribute.BlockFlush; id++)
        {
            var current = Assert.Single(VdpaKernelCatalog.Attributes, a => a.Id == id && a.RemovedIn is null);
            Assert.Matches(@"^\d\.\d+$", current.AddedIn);
        }

        var legacy = Assert.Single(VdpaKernelCatalog.Attributes, a => a.RemovedIn is not null);
        Assert.Equal((21, "6.1", "6.2"), (legacy.Id, legacy.AddedIn, legacy.RemovedIn));
        Assert.Equal("VDPA_DEV_SUPPORTED_FEATURES", VdpaKernelCatalog.FindAttribute(21, Family(22, false))!.UapiName);
        Assert.Equal("DEV_BLK_CFG_CAPACITY", VdpaKernelCatalog.FindAttribute(21, Family(37, true))!.UapiName);
        Assert.Equal("6.12", VdpaKernelCatalog.FindCommand(VdpaCommand.DeviceAttributeSet)!.AddedIn);
        Assert.Equal("6.9", VdpaKernelCatalog.Describe(VdpaCapability.BlockConfig).AddedIn);
        Assert.Equal("5.19", VdpaKernelCatalog.Describe(VdpaCapability.VendorStatistics).AddedIn);
        Assert.Equal(["-MacAddress", "-MaxQueuePairs", "-Mtu", "-Feature"],
            VdpaKernelCatalog.Attributes.Where(a => a.Parameter is not null).Select(a => a.Parameter));
    }

    [Fact]
    public void OnA61FamilyAttribute21OfANetConfigIsTheDeviceFeatures()
    {
        // DEV_CONFIG_GET of a vdpasim_net device on 6.1: VERSION_1 | ACCESS_PLATFORM | MAC | STATUS in attribute 21.
        const ulong features = (1UL << 32) | (1UL << 33) | (1UL << 5) | (1UL << 16);
        var reply = Attributes(
            (VdpaAttribute.DeviceName, Str("n0")),
            (VdpaAttribute.VirtioDeviceId, U32(1)),
            (VdpaAttribute.Legacy61DeviceFeatures, U64(features)),
            (VdpaAttribute.NetConfigMacAddress, [2, 0, 0, 0, 0, 0x61]));

        var on61 = Assert.IsType<VdpaNetDeviceConfig>(VdpaDecoder.DecodeConfig(reply, Family(22, false)));
        var on612 = Assert.IsType<VdpaNetDeviceConfig>(VdpaDecoder.DecodeConfig(reply, Family(37, true)));

        Assert.Equal(features, on61.DeviceFeatureMask);
        Assert.Equal(["MAC", "STATUS", "VERSION_1", "ACCESS_PLATFORM"], on61.DeviceFeatures);
        // Read as a 6.9+ family would, 21 is a block capacity, which a net config has no place for.
        Assert.Null(on612.DeviceFeatureMask);
    }

    [Fact]
    public void OnA612FamilyAttribute21OfABlockConfigIsTheCapacity()
    {
        var reply = Attributes(
            (VdpaAttribute.DeviceName, Str("b0")),
            (VdpaAttribute.VirtioDeviceId, U32(2)),
            (VdpaAttribute.DeviceFeatures, U64(1UL << 6)),
            (VdpaAttribute.BlockCapacity, U64(0x40000)));

        var config = Assert.IsType<VdpaBlockDeviceConfig>(VdpaDecoder.DecodeConfig(reply, Family(37, true)));

        Assert.Equal(0x40000ul, config.Capacity);
        Assert.Equal(1UL << 6, config.DeviceFeatureMask);
    }

    [Fact]
    public void ChangingAMacWithoutDevAttrSetNamesTheReleaseAndSendsNothing()
    {
        var silent = new ReplayTransport([]);
        using var client = new VdpaClient(new NetlinkConnection(silent), Family(22, false).Family);

        var e = Assert.Throws<VdpaCapabilityException>(() => client.SetMacAddress("n0", [2, 0, 0, 0, 0, 1]));

        Assert.Equal(LinuxErrno.EOPNOTSUPP, e.Errno);
        Assert.Equal(VdpaCapability.SetAttributes, e.Capability.Capability);
        Assert.Contains("DEV_ATTR_SET, which came in Linux 6.12", e.Message);
        Assert.Contains("maxattr 22", e.Message);
        Assert.Contains("Linux 6.1", e.Message);
        Assert.Empty(silent.Sent);
    }

    [Fact]
    public void ABlockConfigRefusedBy61IsExplainedAsBlockConfigurationFrom69()
    {
        // 6.1: DEV_CONFIG_GET of a block device is EOPNOTSUPP; DEV_GET then says the device is block (id 2).
        // Each request's place is a bare header (compared below by its genl command, not byte for byte).
        var transport = new ReplayTransport(
        [
            (true, new byte[20]),
            (false, Error(LinuxErrno.EOPNOTSUPP)),
            (true, new byte[20]),
            (false, Reply(5, (VdpaAttribute.DeviceName, Str("b0")), (VdpaAttribute.ManagementDeviceDeviceName, Str("vdpasim_blk")), (VdpaAttribute.VirtioDeviceId, U32(2)))),
            (false, Error(0)),
        ]) { CheckRequests = false };
        using var client = new VdpaClient(new NetlinkConnection(transport), Family(22, false).Family);

        var e = Assert.Throws<VdpaCapabilityException>(() => client.GetConfig("b0"));

        Assert.Equal(VdpaCapability.BlockConfig, e.Capability.Capability);
        Assert.Contains("Linux 6.9", e.Message);
        Assert.Equal(LinuxErrno.EOPNOTSUPP, Assert.IsAssignableFrom<NetlinkException>(e.InnerException).Errno);
        // DEV_CONFIG_GET (6), then DEV_GET (5) to learn the device is block: genlmsghdr.cmd follows the 16-byte nlmsghdr.
        Assert.Equal([6, 5], transport.Sent.Select(d => d[16]));
    }

    [Fact]
    public void AConfigDumpTheKernelEndedEarlyNamesTheDevicesItLeftOut()
    {
        // 6.1: the config dump ends at the first block device (b0), without an error; the device dump lists n0, b0, n1.
        var transport = new ReplayTransport(
        [
            (true, new byte[20]),
            (false, Reply(6, (VdpaAttribute.DeviceName, Str("n0")), (VdpaAttribute.VirtioDeviceId, U32(1)))),
            (false, Done()),
            (true, new byte[20]),
            (false, Concat(
                Reply(5, (VdpaAttribute.DeviceName, Str("n0")), (VdpaAttribute.VirtioDeviceId, U32(1))),
                Reply(5, (VdpaAttribute.DeviceName, Str("b0")), (VdpaAttribute.VirtioDeviceId, U32(2))),
                Reply(5, (VdpaAttribute.DeviceName, Str("n1")), (VdpaAttribute.VirtioDeviceId, U32(1))))),
            (false, Done()),
        ]) { CheckRequests = false };
        using var client = new VdpaClient(new NetlinkConnection(transport), Family(22, false).Family);

        var listing = client.GetConfigListing();

        Assert.Equal(["n0"], listing.Configs.Select(c => c.Name));
        Assert.Equal(["b0", "n1"], listing.Missing);
        // The config dump (6) first, then the device dump (5) it is checked against.
        Assert.Equal([6, 5], transport.Sent.Select(d => d[16]));
    }

    internal static VdpaFamilyCapabilities Family(uint maxAttribute, bool attributeSet)
    {
        var ops = VdpaKernelCatalog.Commands
            .Where(c => attributeSet || c.Command != VdpaCommand.DeviceAttributeSet)
            .Where(c => maxAttribute > VdpaAttribute.QueueIndex || c.Command != VdpaCommand.DeviceVendorStatsGet)
            .Select(c => new GenericOperation((uint)c.Command, GenericOperationFlags.Do | GenericOperationFlags.Dump));
        return new VdpaFamilyCapabilities(new GenericNetlinkFamily("vdpa", 0x1d, 1, 0, maxAttribute, [.. ops], []));
    }

    internal static byte[] Str(string s) => Encoding.UTF8.GetBytes(s + "\0");

    internal static byte[] U32(uint v) => BitConverter.GetBytes(v);

    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);

    private static byte[] Attributes(params (ushort Type, byte[] Payload)[] attributes)
    {
        var bytes = new List<byte>();
        foreach (var (type, payload) in attributes)
        {
            var tlv = new byte[NetlinkConstants.Align(4 + payload.Length)];
            BinaryPrimitives.WriteUInt16LittleEndian(tlv, (ushort)(4 + payload.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(tlv.AsSpan(2), type);
            payload.CopyTo(tlv, 4);
            bytes.AddRange(tlv);
        }

        return [.. bytes];
    }

    /// <summary>A vdpa reply (family 0x1d, sequence 0 so the replay gives it the request's), with a genl header.</summary>
    private static byte[] Reply(byte command, params (ushort Type, byte[] Payload)[] attributes) => Reply(0x1d, command, attributes);

    internal static byte[] Reply(ushort family, byte command, params (ushort Type, byte[] Payload)[] attributes)
    {
        var body = new byte[] { command, 1, 0, 0 }.Concat(Attributes(attributes)).ToArray();
        return Message(family, NetlinkConstants.FlagMulti, body);
    }

    private static byte[] Done() => Message(NetlinkConstants.MessageTypeDone, NetlinkConstants.FlagMulti, BitConverter.GetBytes(0));

    /// <summary>An NLMSG_ERROR (an ACK for 0) echoing a bare request header.</summary>
    internal static byte[] Error(int errno)
    {
        var body = new byte[4 + 16];
        BinaryPrimitives.WriteInt32LittleEndian(body, -errno);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), 16);
        return Message(NetlinkConstants.MessageTypeError, NetlinkConstants.FlagCapped, body);
    }

    private static byte[] Message(ushort type, ushort flags, byte[] body)
    {
        var message = new byte[NetlinkConstants.Align(16 + body.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)(16 + body.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), flags);
        body.CopyTo(message, 16);
        return message;
    }

    private static byte[] Concat(params byte[][] messages) => [.. messages.SelectMany(m => m)];
}

using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

public class VirtioFeaturesTests
{
    // drivers/vdpa/vdpa_sim/vdpa_sim_net.c: VDPASIM_NET_FEATURES = VDPASIM_FEATURES (ANY_LAYOUT, VERSION_1,
    // ACCESS_PLATFORM) | MAC | STATUS | MTU | CTRL_VQ | CTRL_MAC_ADDR. Written out from the bit numbers so the
    // expected mask does not come from the code under test.
    private const ulong VdpasimNetMask =
        (1UL << 3) | (1UL << 5) | (1UL << 16) | (1UL << 17) | (1UL << 23) | (1UL << 27) | (1UL << 32) | (1UL << 33);

    public static TheoryData<VirtioDeviceClass> Classes => new()
    {
        VirtioDeviceClass.Unknown,
        VirtioDeviceClass.Net,
        VirtioDeviceClass.Block,
    };

    public static TheoryData<VirtioDeviceClass, string> KnownNamesByClass()
    {
        var data = new TheoryData<VirtioDeviceClass, string>();
        foreach (var deviceClass in new[] { VirtioDeviceClass.Unknown, VirtioDeviceClass.Net, VirtioDeviceClass.Block })
        {
            foreach (var name in VirtioFeatures.GetKnownNames(deviceClass))
            {
                data.Add(deviceClass, name);
            }
        }

        return data;
    }

    [Fact]
    public void VdpasimNetMaskIsTheValueTheKernelReports()
    {
        Assert.Equal(0x308830028UL, VdpasimNetMask);
    }

    [Fact]
    public void VdpasimNetSupportedFeaturesGetIproute2NamesInBitOrder()
    {
        var names = VirtioFeatures.GetNames(VdpasimNetMask, VirtioDeviceClass.Net);

        Assert.Equal(
            ["MTU", "MAC", "STATUS", "CTRL_VQ", "CTRL_MAC_ADDR", "ANY_LAYOUT", "VERSION_1", "ACCESS_PLATFORM"],
            names);
    }

    [Fact]
    public void VdpasimNetNamesParseBackToTheSameMask()
    {
        var names = VirtioFeatures.GetNames(VdpasimNetMask, VirtioDeviceClass.Net);

        Assert.Equal(VdpasimNetMask, VirtioFeatures.ParseMask(names, VirtioDeviceClass.Net));
    }

    [Theory]
    [InlineData(VirtioDeviceClass.Net, "MAC")]
    [InlineData(VirtioDeviceClass.Block, "RO")]
    [InlineData(VirtioDeviceClass.Unknown, "bit_5")]
    public void Bit5DependsOnTheDeviceClass(VirtioDeviceClass deviceClass, string expected)
    {
        Assert.Equal([expected], VirtioFeatures.GetNames(1UL << 5, deviceClass));
    }

    [Theory]
    [InlineData(VirtioDeviceClass.Net, "MQ", 22)]
    [InlineData(VirtioDeviceClass.Block, "MQ", 12)]
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_NET_F_MAC", 5)]
    [InlineData(VirtioDeviceClass.Block, "VIRTIO_BLK_F_RO", 5)]
    [InlineData(VirtioDeviceClass.Block, "virtio_blk_f_flush", 9)]
    [InlineData(VirtioDeviceClass.Block, "WCE", 9)]
    [InlineData(VirtioDeviceClass.Block, "VIRTIO_BLK_F_WCE", 9)]
    [InlineData(VirtioDeviceClass.Net, "mac", 5)]
    [InlineData(VirtioDeviceClass.Net, "  Mtu ", 3)]
    [InlineData(VirtioDeviceClass.Net, "VERSION_1", 32)]
    [InlineData(VirtioDeviceClass.Block, "VIRTIO_F_VERSION_1", 32)]
    [InlineData(VirtioDeviceClass.Unknown, "VIRTIO_F_ACCESS_PLATFORM", 33)]
    [InlineData(VirtioDeviceClass.Net, "IOMMU_PLATFORM", 33)]
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_F_IOMMU_PLATFORM", 33)]
    [InlineData(VirtioDeviceClass.Net, "RING_EVENT_IDX", 29)]
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_RING_F_INDIRECT_DESC", 28)]
    [InlineData(VirtioDeviceClass.Block, "NOTIFY_ON_EMPTY", 24)]
    [InlineData(VirtioDeviceClass.Block, "ANY_LAYOUT", 27)]
    [InlineData(VirtioDeviceClass.Unknown, "ADMIN_VQ", 41)]
    [InlineData(VirtioDeviceClass.Net, "GUEST_USO4", 54)]
    [InlineData(VirtioDeviceClass.Net, "HASH_REPORT", 57)]
    [InlineData(VirtioDeviceClass.Net, "SPEED_DUPLEX", 63)]
    [InlineData(VirtioDeviceClass.Block, "ZONED", 17)]
    [InlineData(VirtioDeviceClass.Net, "bit_4", 4)]
    [InlineData(VirtioDeviceClass.Net, "BIT_63", 63)]
    [InlineData(VirtioDeviceClass.Block, "0", 0)]
    [InlineData(VirtioDeviceClass.Unknown, "63", 63)]
    public void TryGetBitAcceptsNamesMacrosAndNumbers(VirtioDeviceClass deviceClass, string name, int expected)
    {
        Assert.True(VirtioFeatures.TryGetBit(name, deviceClass, out var bit));
        Assert.Equal(expected, bit);
    }

    [Theory]
    [InlineData(VirtioDeviceClass.Net, "bit_70")]
    [InlineData(VirtioDeviceClass.Net, "bit_64")]
    [InlineData(VirtioDeviceClass.Net, "bit_")]
    [InlineData(VirtioDeviceClass.Net, "bit_-1")]
    [InlineData(VirtioDeviceClass.Net, "64")]
    [InlineData(VirtioDeviceClass.Net, "-1")]
    [InlineData(VirtioDeviceClass.Net, "100")]
    [InlineData(VirtioDeviceClass.Net, "FOO")]
    [InlineData(VirtioDeviceClass.Net, "")]
    [InlineData(VirtioDeviceClass.Net, "   ")]
    [InlineData(VirtioDeviceClass.Net, "0x20")]               // masks belong to ParseMask, not to a single bit
    [InlineData(VirtioDeviceClass.Net, "RO")]                 // blk name on a net device
    [InlineData(VirtioDeviceClass.Block, "MAC")]              // net name on a blk device
    [InlineData(VirtioDeviceClass.Block, "VIRTIO_NET_F_MAC")] // would otherwise alias blk RO (bit 5)
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_BLK_F_RO")]
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_F_MAC")]       // VIRTIO_F_ only reaches transport bits
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_NET_F_VERSION_1")]
    [InlineData(VirtioDeviceClass.Net, "VIRTIO_NET_F_")]
    [InlineData(VirtioDeviceClass.Unknown, "MAC")]            // no device table without a class
    [InlineData(VirtioDeviceClass.Net, "WCE")]                // the blk alias does not leak into net
    public void TryGetBitRejectsUnknownOrForeignNames(VirtioDeviceClass deviceClass, string name)
    {
        Assert.False(VirtioFeatures.TryGetBit(name, deviceClass, out var bit));
        Assert.Equal(-1, bit);
    }

    [Fact]
    public void TryGetBitRejectsNull()
    {
        Assert.False(VirtioFeatures.TryGetBit(null!, VirtioDeviceClass.Net, out _));
    }

    [Theory]
    [MemberData(nameof(KnownNamesByClass))]
    public void EveryKnownNameRoundTripsThroughItsBit(VirtioDeviceClass deviceClass, string name)
    {
        Assert.True(VirtioFeatures.TryGetBit(name, deviceClass, out var bit));
        Assert.Equal([name], VirtioFeatures.GetNames(1UL << bit, deviceClass));
        Assert.Equal(1UL << bit, VirtioFeatures.ParseMask([name], deviceClass));
        Assert.True(VirtioFeatures.TryGetBit(name.ToLowerInvariant(), deviceClass, out var lowerBit));
        Assert.Equal(bit, lowerBit);
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void KnownNamesAreUniqueSortedByBitAndMatchGetNamesOfAllBits(VirtioDeviceClass deviceClass)
    {
        var known = VirtioFeatures.GetKnownNames(deviceClass);
        var bits = known.Select(n => VirtioFeatures.TryGetBit(n, deviceClass, out var b) ? b : -1).ToList();

        Assert.Equal(known.Count, known.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.DoesNotContain(-1, bits);
        Assert.Equal(bits.OrderBy(b => b), bits);
        Assert.Equal(known, VirtioFeatures.GetNames(ulong.MaxValue, deviceClass).Where(n => !n.StartsWith("bit_", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void TransportNamesAreKnownToEveryClass(VirtioDeviceClass deviceClass)
    {
        var known = VirtioFeatures.GetKnownNames(deviceClass);

        Assert.Equal(
            ["NOTIFY_ON_EMPTY", "ANY_LAYOUT", "RING_INDIRECT_DESC", "RING_EVENT_IDX", "VERSION_1", "ACCESS_PLATFORM",
             "RING_PACKED", "IN_ORDER", "ORDER_PLATFORM", "SR_IOV", "NOTIFICATION_DATA", "NOTIF_CONFIG_DATA",
             "RING_RESET", "ADMIN_VQ"],
            known.Where(n => VirtioFeatures.TryGetBit(n, VirtioDeviceClass.Unknown, out _)));
    }

    [Fact]
    public void UnknownClassNamesOnlyTransportBits()
    {
        Assert.Equal(14, VirtioFeatures.GetKnownNames(VirtioDeviceClass.Unknown).Count);
        Assert.Equal(
            ["bit_0", "bit_5", "bit_23", "NOTIFY_ON_EMPTY", "VERSION_1", "ADMIN_VQ", "bit_42", "bit_63"],
            VirtioFeatures.GetNames((1UL << 0) | (1UL << 5) | (1UL << 23) | (1UL << 24) | (1UL << 32) | (1UL << 41) | (1UL << 42) | (1UL << 63), VirtioDeviceClass.Unknown));
    }

    [Fact]
    public void NetTableHasIproute2NamesAndTheKernelOnesIproute2Lacks()
    {
        var names = VirtioFeatures.GetNames(ulong.MaxValue, VirtioDeviceClass.Net);

        // Exactly the bits with no uapi macro (4, 25, 26, 30, 31, 42..49, 51, 58) stay bit_N.
        Assert.Equal(
            ["bit_4", "bit_25", "bit_26", "bit_30", "bit_31", "bit_42", "bit_43", "bit_44", "bit_45", "bit_46", "bit_47",
             "bit_48", "bit_49", "bit_51", "bit_58"],
            names.Where(n => n.StartsWith("bit_", StringComparison.Ordinal)));
        Assert.Equal(
            ["CSUM", "GUEST_CSUM", "CTRL_GUEST_OFFLOADS", "MTU", "MAC", "GSO", "GUEST_TSO4", "GUEST_TSO6", "GUEST_ECN",
             "GUEST_UFO", "HOST_TSO4", "HOST_TSO6", "HOST_ECN", "HOST_UFO", "MRG_RXBUF", "STATUS", "CTRL_VQ", "CTRL_RX",
             "CTRL_VLAN", "CTRL_RX_EXTRA", "GUEST_ANNOUNCE", "MQ", "CTRL_MAC_ADDR", "NOTIFY_ON_EMPTY", "ANY_LAYOUT",
             "RING_INDIRECT_DESC", "RING_EVENT_IDX", "VERSION_1", "ACCESS_PLATFORM", "RING_PACKED", "IN_ORDER",
             "ORDER_PLATFORM", "SR_IOV", "NOTIFICATION_DATA", "NOTIF_CONFIG_DATA", "RING_RESET", "ADMIN_VQ",
             "DEVICE_STATS", "VQ_NOTF_COAL", "NOTF_COAL", "GUEST_USO4", "GUEST_USO6", "HOST_USO", "HASH_REPORT",
             "GUEST_HDRLEN", "RSS", "RSC_EXT", "STANDBY", "SPEED_DUPLEX"],
            VirtioFeatures.GetKnownNames(VirtioDeviceClass.Net));
    }

    [Theory]
    [InlineData("DEVICE_STATS", 50)]
    [InlineData("VQ_NOTF_COAL", 52)]
    [InlineData("NOTF_COAL", 53)]
    [InlineData("GUEST_USO4", 54)]
    [InlineData("GUEST_USO6", 55)]
    [InlineData("HOST_USO", 56)]
    [InlineData("HASH_REPORT", 57)]
    [InlineData("GUEST_HDRLEN", 59)]
    [InlineData("RSS", 60)]
    [InlineData("RSC_EXT", 61)]
    [InlineData("STANDBY", 62)]
    [InlineData("SPEED_DUPLEX", 63)]
    public void HighNetBitsMatchTheUapiHeader(string name, int bit)
    {
        Assert.Equal([name], VirtioFeatures.GetNames(1UL << bit, VirtioDeviceClass.Net));
    }

    [Fact]
    public void BlockTableCoversEveryVirtioBlkBit()
    {
        Assert.Equal(
            ["BARRIER", "SIZE_MAX", "SEG_MAX", "bit_3", "GEOMETRY", "RO", "BLK_SIZE", "SCSI", "bit_8", "FLUSH",
             "TOPOLOGY", "CONFIG_WCE", "MQ", "DISCARD", "WRITE_ZEROES", "LIFETIME", "SECURE_ERASE", "ZONED", "bit_18",
             "bit_19", "bit_20", "bit_21", "bit_22", "bit_23"],
            VirtioFeatures.GetNames(0xFFFFFFUL, VirtioDeviceClass.Block));
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void GetNamesOfZeroIsEmpty(VirtioDeviceClass deviceClass)
    {
        Assert.Empty(VirtioFeatures.GetNames(0, deviceClass));
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void GetNamesOfAllBitsGivesSixtyFourEntries(VirtioDeviceClass deviceClass)
    {
        var names = VirtioFeatures.GetNames(ulong.MaxValue, deviceClass);

        Assert.Equal(64, names.Length);
        Assert.Equal(64, names.Distinct().Count());
        Assert.Equal("bit_31", names[31]); // reserved in every table
    }

    [Fact]
    public void GetNamesToleratesAnUndefinedDeviceClass()
    {
        Assert.Equal(["bit_5", "VERSION_1"], VirtioFeatures.GetNames((1UL << 5) | (1UL << 32), (VirtioDeviceClass)99));
        Assert.Equal(14, VirtioFeatures.GetKnownNames((VirtioDeviceClass)99).Count);
    }

    [Fact]
    public void ParseMaskAcceptsAHexMask()
    {
        Assert.Equal(0x300020000UL, VirtioFeatures.ParseMask(["0x300020000"], VirtioDeviceClass.Net));
        Assert.Equal(
            ["CTRL_VQ", "VERSION_1", "ACCESS_PLATFORM"],
            VirtioFeatures.GetNames(VirtioFeatures.ParseMask(["0X300020000"], VirtioDeviceClass.Net), VirtioDeviceClass.Net));
        Assert.Equal(ulong.MaxValue, VirtioFeatures.ParseMask(["0xFFFFFFFFFFFFFFFF"], VirtioDeviceClass.Net));
    }

    [Fact]
    public void ParseMaskCombinesMixedEntries()
    {
        var mask = VirtioFeatures.ParseMask(
            ["MAC", "VIRTIO_NET_F_MTU", "bit_16", "17", "0x800000", "virtio_f_version_1", "ACCESS_PLATFORM", "ANY_LAYOUT"],
            VirtioDeviceClass.Net);

        Assert.Equal(VdpasimNetMask, mask);
    }

    [Fact]
    public void ParseMaskSplitsCommaAndSpaceSeparatedEntries()
    {
        Assert.Equal(
            (1UL << 5) | (1UL << 3) | (1UL << 32),
            VirtioFeatures.ParseMask(["MAC, MTU", "VERSION_1"], VirtioDeviceClass.Net));
        Assert.Equal((1UL << 5) | (1UL << 9), VirtioFeatures.ParseMask(["RO FLUSH"], VirtioDeviceClass.Block));
    }

    [Fact]
    public void ParseMaskOfNoEntriesIsZero()
    {
        Assert.Equal(0UL, VirtioFeatures.ParseMask([], VirtioDeviceClass.Net));
    }

    [Fact]
    public void ParseMaskIsClassSpecific()
    {
        Assert.Equal(1UL << 5, VirtioFeatures.ParseMask(["RO"], VirtioDeviceClass.Block));
        Assert.Throws<ArgumentException>(() => VirtioFeatures.ParseMask(["RO"], VirtioDeviceClass.Net));
    }

    [Theory]
    [InlineData("FOO")]
    [InlineData("bit_70")]
    [InlineData("64")]
    [InlineData("0x")]
    [InlineData("0xG1")]
    [InlineData("0x10000000000000000")] // 65 bits
    [InlineData("0x-1")]
    public void ParseMaskNamesTheFirstUnknownEntry(string bad)
    {
        var ex = Assert.Throws<ArgumentException>(() => VirtioFeatures.ParseMask(["MAC", bad, "ALSO_BAD"], VirtioDeviceClass.Net));

        Assert.Contains($"'{bad}'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ALSO_BAD", ex.Message, StringComparison.Ordinal);
        Assert.Equal("items", ex.ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" , ")]
    public void ParseMaskRejectsAnEmptyEntry(string empty)
    {
        Assert.Throws<ArgumentException>(() => VirtioFeatures.ParseMask(["MAC", empty], VirtioDeviceClass.Net));
    }

    [Fact]
    public void ParseMaskRejectsNullInput()
    {
        Assert.Throws<ArgumentNullException>(() => VirtioFeatures.ParseMask(null!, VirtioDeviceClass.Net));
        Assert.Throws<ArgumentException>(() => VirtioFeatures.ParseMask([null!], VirtioDeviceClass.Net));
    }
}

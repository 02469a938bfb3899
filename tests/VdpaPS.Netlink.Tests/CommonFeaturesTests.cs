using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

public class CommonFeaturesTests
{
    // Written out from the virtio bit numbers, not from the code under test. vdpasim_net (6.12): MTU 3, MAC 5, STATUS 16,
    // CTRL_VQ 17, CTRL_MAC_ADDR 23, ANY_LAYOUT 27, VERSION_1 32, ACCESS_PLATFORM 33.
    private const ulong SimNet =
        (1UL << 3) | (1UL << 5) | (1UL << 16) | (1UL << 17) | (1UL << 23) | (1UL << 27) | (1UL << 32) | (1UL << 33);

    // A virtio-net-pci function under vp_vdpa, shortened: CSUM 0, MAC 5, STATUS 16, CTRL_VQ 17, MQ 22, VERSION_1 32,
    // ACCESS_PLATFORM 33, RING_RESET 40.
    private const ulong PciNet =
        (1UL << 0) | (1UL << 5) | (1UL << 16) | (1UL << 17) | (1UL << 22) | (1UL << 32) | (1UL << 33) | (1UL << 40);

    private static VdpaFeatureSource Net(string name, ulong? mask, string? computer = null) =>
        new(name, computer, [VirtioDeviceClass.Net], mask);

    [Fact]
    public void CommonFeaturesAreTheIntersectionOfTheMasks()
    {
        var common = VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet, "h1"), Net("pci/0000:00:10.0", PciNet, "h2")])!;

        const ulong expected = (1UL << 5) | (1UL << 16) | (1UL << 17) | (1UL << 32) | (1UL << 33);
        Assert.Equal(expected, common.FeatureMask);
        Assert.Equal(["MAC", "STATUS", "CTRL_VQ", "VERSION_1", "ACCESS_PLATFORM"], common.Features);
        Assert.Equal(VirtioDeviceClass.Net, common.DeviceClass);
    }

    [Fact]
    public void EachParentKeepsItsHostAndWhatItHasBeyondTheCommonSet()
    {
        var common = VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet, "h1"), Net("pci/0000:00:10.0", PciNet, "h2"), Net("vdpasim_net", SimNet)])!;

        Assert.Equal(3, common.Parents.Length);
        Assert.Equal(("h1", "vdpasim_net"), (common.Parents[0].ComputerName, common.Parents[0].Parent));
        Assert.Equal(["MTU", "CTRL_MAC_ADDR", "ANY_LAYOUT"], common.Parents[0].ExtraFeatures);
        Assert.Equal((1UL << 3) | (1UL << 23) | (1UL << 27), common.Parents[0].ExtraFeatureMask);
        Assert.Equal(SimNet, common.Parents[0].SupportedFeatureMask);
        Assert.Equal(("h2", "pci/0000:00:10.0"), (common.Parents[1].ComputerName, common.Parents[1].Parent));
        Assert.Equal(["CSUM", "MQ", "RING_RESET"], common.Parents[1].ExtraFeatures);
        Assert.Null(common.Parents[2].ComputerName);
        Assert.Equal(common.Parents[0].ExtraFeatures, common.Parents[2].ExtraFeatures);
    }

    [Fact]
    public void OneParentHasItsOwnFeaturesAndNothingBeyond()
    {
        var common = VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet)])!;

        Assert.Equal(SimNet, common.FeatureMask);
        Assert.Empty(common.Parents.Single().ExtraFeatures);
        Assert.Equal(0UL, common.Parents.Single().ExtraFeatureMask);
    }

    [Fact]
    public void NoParentsGiveNoResult() => Assert.Null(VdpaFeatureIntersection.Compute([]));

    [Fact]
    public void DisjointMasksGiveAnEmptyCommonSet()
    {
        var common = VdpaFeatureIntersection.Compute([Net("a", 1UL << 5), Net("b", 1UL << 3)])!;

        Assert.Equal(0UL, common.FeatureMask);
        Assert.Empty(common.Features);
    }

    [Fact]
    public void NetAndBlockParentsAreRefusedNamingEachParentsClass()
    {
        var e = Assert.Throws<VdpaCommonFeatureException>(() => VdpaFeatureIntersection.Compute(
            [Net("vdpasim_net", SimNet, "h1"), new VdpaFeatureSource("vdpasim_blk", "h2", [VirtioDeviceClass.Block], 1UL << 32)]));

        Assert.Equal(VdpaCommonFeatureFailure.MixedClasses, e.Failure);
        Assert.Contains("'vdpasim_net' on h1 creates Net", e.Message, StringComparison.Ordinal);
        Assert.Contains("'vdpasim_blk' on h2 creates Block", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassesAreCheckedBeforeMasks()
    {
        // A net parent and vduse's multi-class parent without a mask share Net: the missing mask is the reason then.
        var vduse = new VdpaFeatureSource("vduse", null, [VirtioDeviceClass.Net, VirtioDeviceClass.Block], null);
        var e = Assert.Throws<VdpaCommonFeatureException>(() => VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet), vduse]));
        Assert.Equal(VdpaCommonFeatureFailure.FeaturesUnknown, e.Failure);
        Assert.Contains("'vduse'", e.Message, StringComparison.Ordinal);

        var block = new VdpaFeatureSource("vdpasim_blk", null, [VirtioDeviceClass.Block], null);
        e = Assert.Throws<VdpaCommonFeatureException>(() => VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet), block]));
        Assert.Equal(VdpaCommonFeatureFailure.MixedClasses, e.Failure);
    }

    [Fact]
    public void MultiClassParentsNeedAChosenClass()
    {
        var a = new VdpaFeatureSource("a", null, [VirtioDeviceClass.Net, VirtioDeviceClass.Block], 0x3);
        var b = new VdpaFeatureSource("b", null, [VirtioDeviceClass.Block, VirtioDeviceClass.Net], 0x6);

        var e = Assert.Throws<VdpaCommonFeatureException>(() => VdpaFeatureIntersection.Compute([a, b]));
        Assert.Equal(VdpaCommonFeatureFailure.AmbiguousClass, e.Failure);

        var block = VdpaFeatureIntersection.Compute([a, b], VirtioDeviceClass.Block)!;
        Assert.Equal(VirtioDeviceClass.Block, block.DeviceClass);
        Assert.Equal(0x2UL, block.FeatureMask);
        Assert.Equal(["SIZE_MAX"], block.Features);
    }

    [Fact]
    public void AChosenClassEveryParentMustCreate()
    {
        var e = Assert.Throws<VdpaCommonFeatureException>(() => VdpaFeatureIntersection.Compute([Net("vdpasim_net", SimNet)], VirtioDeviceClass.Block));
        Assert.Equal(VdpaCommonFeatureFailure.MixedClasses, e.Failure);
    }
}

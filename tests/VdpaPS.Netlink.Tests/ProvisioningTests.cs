using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;
using static VdpaPS.Netlink.Tests.VdpaFixtureTests;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The provisioning table: what DEV_NEW carries (checked against the uAPI layout), what New-VdpaDevice says about it,
/// and the read-back comparison on devices recorded from the lab's 6.12 and 6.1 kernels.
/// </summary>
public sealed class ProvisioningTests
{
    private static readonly VdpaDeviceSpec Full = new()
    {
        Name = "n0", Parent = "pci/0000:00:04.0", MacAddress = [2, 0, 0, 0, 0, 0x61], Mtu = 1400, MaxQueuePairs = 2, Features = 0x300000020,
    };

    [Fact]
    public void EachDevNewAttributeIsDescribedOnceOnTopOfTheCatalog()
    {
        // From include/uapi/linux/vdpa.h (numbers, names, the release whose header added them) and New-VdpaDevice's parameters.
        Assert.Equal(
            [(10, "DEV_NET_CFG_MACADDR", "-MacAddress", "5.16"), (13, "DEV_NET_CFG_MTU", "-Mtu", "5.16"),
             (12, "DEV_NET_CFG_MAX_VQP", "-MaxQueuePairs", "5.16"), (20, "DEV_FEATURES", "-Feature", "6.1")],
            VdpaProvisioning.Attributes.Select(a => ((int)a.Id, a.Info.UapiName, a.Parameter, a.Info.AddedIn)));
        foreach (var attribute in VdpaProvisioning.Attributes)
        {
            Assert.Same(VdpaKernelCatalog.FindAttribute(attribute.Id), attribute.Info);
        }

        Assert.Equal("-Mtu", VdpaProvisioning.ParameterOf(13));
        Assert.Equal("DEV_NAME", VdpaProvisioning.ParameterOf(4));
        Assert.Equal([10, 13, 12, 20], Full.ProvisioningAttributes.Select(a => (int)a));
        Assert.Empty(new VdpaDeviceSpec { Name = "n0", Parent = "vdpasim_net" }.ProvisioningAttributes);
    }


    [Fact]
    public void EveryAttributeIsWrittenInTheUapiLayout()
    {
        var family = FamilyOf("dev-new-net");
        // VDPA_CMD_DEV_NEW (3): DEV_NAME (4), MGMTDEV_BUS_NAME (1), MGMTDEV_DEV_NAME (2), MACADDR (10, 6 bytes), MTU (13, u16),
        // MAX_VQP (12, u16), DEV_FEATURES (20, u64), each little-endian.
        var request = Uapi(family.Id, 3, Attr(4, "n0\0"u8), Attr(1, "pci\0"u8), Attr(2, "0000:00:04.0\0"u8), Attr(10, [2, 0, 0, 0, 0, 0x61]),
            Attr(13, [0x78, 0x05]), Attr(12, [2, 0]), Attr(20, [0x20, 0, 0, 0, 3, 0, 0, 0]));
        using var transport = new ReplayTransport([(true, request), (false, KernelCapabilityTests.Error(0))]);
        using var client = new VdpaClient(new NetlinkConnection(transport), family);

        client.CreateDevice(Full);

        transport.AssertConsumed();
    }

    [Fact]
    public void TheDescriptionsSayWhatIsAskedAndWhatGoesOut()
    {
        Assert.Equal(" with MAC=02:00:00:00:00:61, MTU=1400, max queue pairs=2, features=0x300000020", VdpaProvisioning.DescribeValues(Full));
        Assert.Equal("DEV_NAME=n0 MGMTDEV_BUS_NAME=pci MGMTDEV_DEV_NAME=0000:00:04.0 DEV_NET_CFG_MACADDR=02:00:00:00:00:61 DEV_NET_CFG_MTU=1400 " +
            "DEV_NET_CFG_MAX_VQP=2 DEV_FEATURES=0x300000020", VdpaProvisioning.DescribeRequest(Full));
        var bare = new VdpaDeviceSpec { Name = "n0", Parent = "vdpasim_net" };
        Assert.Equal(string.Empty, VdpaProvisioning.DescribeValues(bare));
        Assert.Equal("DEV_NAME=n0 MGMTDEV_DEV_NAME=vdpasim_net", VdpaProvisioning.DescribeRequest(bare));
    }

    [Fact]
    public void WhatTheRecordedDeviceShowsCountsAsApplied()
    {
        // fxnet0 was recorded created with MAC 02:00:00:00:00:11 and MTU 9000 (dev-new-net), without MQ: one queue pair.
        var (config, family) = Config("config-get-net");
        var asRecorded = new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x11], Mtu = 9000, MaxQueuePairs = 1 };

        Assert.Empty(VdpaProvisioning.CheckApplied(asRecorded, config, family));
    }

    [Fact]
    public void EachDifferenceFromTheRecordedDeviceIsNamed()
    {
        var (config, family) = Config("config-get-net");
        var spec = new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x22], Mtu = 1400, MaxQueuePairs = 4 };
        const string Ignored = "The kernel accepted the request without using the attribute (kernels before it existed ignore it).";

        var findings = VdpaProvisioning.CheckApplied(spec, config, family);

        Assert.All(findings, f => Assert.False(f.Unverifiable));
        Assert.Equal(
        [
            $"vDPA device 'fxnet0' was created, but -MacAddress was not applied: 02:00:00:00:00:22 was asked, the device has 02:00:00:00:00:11. {Ignored}",
            $"vDPA device 'fxnet0' was created, but -Mtu was not applied: 1400 was asked, the device has 9000. {Ignored}",
            $"vDPA device 'fxnet0' was created, but -MaxQueuePairs was not applied: 4 was asked, the device has 1. {Ignored}",
        ], findings.Select(f => f.Message));
    }

    [Fact]
    public void AFileDeviceNamesTheAttributeNotTheParameter()
    {
        // Sync-VdpaConfiguration asks the same question as New-VdpaDevice; its file has no parameters to name.
        var (config, family) = Config("config-get-net");
        var spec = new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", Mtu = 1400 };

        var finding = Assert.Single(VdpaProvisioning.CheckApplied(spec, config, family, a => $"its {a.Label}"));

        Assert.StartsWith("vDPA device 'fxnet0' was created, but its MTU was not applied: 1400 was asked, the device has 9000.", finding.Message);
    }

    [Fact]
    public void On61AMacWithoutTheMacFeatureIsNamedAsWhyAndTheFeaturesAreCompared()
    {
        // 6.1 reports a device's features in attribute 21; the recorded fxnet0 was created without -Feature.
        var (config, family) = Config("config-get-net", "6.1");
        var offered = config.DeviceFeatureMask!.Value;
        var versionOnly = 1UL << 32;
        var spec = new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x22], Features = versionOnly };

        var findings = VdpaProvisioning.CheckApplied(spec, config, family);

        Assert.Equal(["-MacAddress", "-Feature"], findings.Select(f => f.Attribute.Parameter));
        Assert.EndsWith("-Feature lacks MAC, which the attribute needs, and this kernel created the device without it instead of refusing.", findings[0].Message);
        Assert.Contains($"-Feature was not applied: 0x100000000 was asked, the device has 0x{offered:x}.", findings[1].Message);
        Assert.Empty(VdpaProvisioning.CheckApplied(spec with { MacAddress = null, Features = offered }, config, family));
    }

    [Fact]
    public void FeaturesAKernelDoesNotReportAreAWarningNotAnError()
    {
        var config = new VdpaNetDeviceConfig { Name = "n0", Type = VirtioDeviceClass.Net, VirtioDeviceId = 1 };

        var finding = Assert.Single(VdpaProvisioning.CheckApplied(Full with { MacAddress = null, Mtu = null, MaxQueuePairs = null }, config, VdpaFamilyCapabilities.Current));

        Assert.True(finding.Unverifiable);
        Assert.Equal("This kernel does not report device features, so whether -Feature was applied to 'n0' cannot be checked.", finding.Message);
    }

    [Fact]
    public void ABlockDeviceBefore69CannotBeCheckedForFeatures()
    {
        var block = new VdpaDevice { Name = "b0", Type = VirtioDeviceClass.Block };
        var spec = new VdpaDeviceSpec { Name = "b0", Parent = "vdpasim_blk", Features = 1 };

        Assert.Contains("Linux 6.9", VdpaProvisioning.CannotCheck(spec, block, new VdpaFamilyCapabilities(FamilyOf("dev-new-net", "6.1"))));
        Assert.Null(VdpaProvisioning.CannotCheck(spec, block, new VdpaFamilyCapabilities(FamilyOf("dev-new-net"))));
        Assert.Null(VdpaProvisioning.CannotCheck(spec with { Features = null }, block, new VdpaFamilyCapabilities(FamilyOf("dev-new-net", "6.1"))));
    }

    [Fact]
    public void AFamilyThatDoesNotKnowAnAttributeIsWarnedAboutAndDoesNotGetIt()
    {
        // The lab's seam: the 6.12 family with maxattr lowered to 13, as a kernel before DEV_NET_CFG_MTU would describe
        // itself, given to the client through the family cache as New-VdpaDevice's client takes it.
        var real = FamilyOf("dev-new-net");
        var cache = new GenericFamilyCache();
        cache.Remember(real with { MaxAttribute = VdpaAttribute.NetConfigMtu });
        // DEV_NEW as it must go out: name, parent and MAC; no MTU.
        var request = Uapi(real.Id, 3, Attr(4, "fxnet0\0"u8), Attr(2, "vdpasim_net\0"u8), Attr(10, [2, 0, 0, 0, 0, 0x11]));
        using var transport = new ReplayTransport([(true, request), (false, KernelCapabilityTests.Error(0))]);
        using var client = new VdpaClient(new NetlinkConnection(transport), cache);
        var spec = new VdpaDeviceSpec { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [2, 0, 0, 0, 0, 0x11], Mtu = 9000 };

        var unknown = Assert.Single(VdpaProvisioning.UnknownTo(client.Capabilities, spec));
        client.CreateDevice(VdpaProvisioning.ForFamily(client.Capabilities, spec));

        transport.AssertConsumed();
        Assert.Equal("This kernel's vdpa family does not know -Mtu (attribute 13, DEV_NET_CFG_MTU, added in Linux 5.16): it would accept the request " +
            "and ignore it, so it is left out.", VdpaProvisioning.UnknownWarning(unknown));
        // The read-back of a device without it names the attribute, and says why from the family.
        var device = new VdpaNetDeviceConfig { Name = "fxnet0", Type = VirtioDeviceClass.Net, VirtioDeviceId = 1, MacAddress = "02:00:00:00:00:11", Mtu = 1500 };
        var finding = Assert.Single(VdpaProvisioning.CheckApplied(spec, device, client.Capabilities));
        Assert.StartsWith("vDPA device 'fxnet0' was created, but -Mtu was not applied: 9000 was asked, the device has 1500. This kernel's vdpa family (maxattr 13,", finding.Message);
        Assert.EndsWith("does not know DEV_NET_CFG_MTU (Linux 5.16), so it was left out.", finding.Message);
        // The family as nlctrl described it knows them all: the spec goes as it is.
        var full = new VdpaFamilyCapabilities(real);
        Assert.Empty(VdpaProvisioning.UnknownTo(full, spec));
        Assert.Same(spec, VdpaProvisioning.ForFamily(full, spec));
        // 5.19 and 6.0 (maxattr 20) predate DEV_FEATURES.
        var before61 = new VdpaFamilyCapabilities(real with { MaxAttribute = VdpaAttribute.DeviceFeatures });
        Assert.Equal(["-Feature"], VdpaProvisioning.UnknownTo(before61, Full).Select(a => a.Parameter));
        Assert.Null(VdpaProvisioning.ForFamily(before61, Full).Features);
        Assert.Equal(Full.Mtu, VdpaProvisioning.ForFamily(before61, Full).Mtu);
    }

    private static string FixturePath(string fixture, string? kernel) =>
        Path.Combine([AppContext.BaseDirectory, "Fixtures", .. kernel is null ? Array.Empty<string>() : [kernel], fixture + ".nlrec"]);

    private static GenericNetlinkFamily FamilyOf(string fixture, string? kernel = null)
    {
        var lookup = NetlinkRecording.Parse(File.ReadLines(FixturePath(fixture, kernel))).Take(3);
        return GenericNetlinkController.GetFamily(new NetlinkConnection(new ReplayTransport(lookup)), "vdpa");
    }

    private static (VdpaDeviceConfig Config, VdpaFamilyCapabilities Family) Config(string fixture, string? kernel = null)
    {
        var transport = new ReplayTransport(NetlinkRecording.Parse(File.ReadLines(FixturePath(fixture, kernel))));
        using var client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
        return (client.GetConfig("fxnet0"), client.Capabilities);
    }
}

/// <summary>What a parent lets a create set, what Export writes of it, and the check -Force makes before it removes anything.</summary>
public sealed class ParentProvisioningTests
{
    private static readonly VdpaDeviceDefinition Exported = new()
    {
        Name = "d0", Parent = "pci/0000:00:11.0", MacAddress = "52:54:00:00:11:00", Mtu = 1500, MaxQueuePairs = 1, Features = ["MAC", "VERSION_1"], Driver = "vhost_vdpa",
    };

    private static readonly VdpaParent SimNet = new()
    {
        Name = "vdpasim_net", DeviceName = "vdpasim_net", SupportedClasses = [VirtioDeviceClass.Net], MaxQueues = 3, SupportedFeatureMask = 0x10000003DUL | (1UL << 5),
    };

    [Theory]
    [InlineData("vp-vdpa", null, null, null, true)]
    [InlineData("vdpasim_net", "52:54:00:00:11:00", 1500, null, true)]
    [InlineData("vdpasim_blk", null, null, null, false)]
    [InlineData("vduse", null, null, null, false)]
    [InlineData("mlx5_core", "52:54:00:00:11:00", 1500, 1, true)]
    public void ExportWritesOnlyWhatTheParentLetsACreateSet(string kind, string? mac, int? mtu, int? pairs, bool features)
    {
        var written = VdpaProvisioning.Restorable(Exported, kind);
        Assert.Equal((mac, mtu, pairs, features), (written.MacAddress, written.Mtu, written.MaxQueuePairs, written.Features is not null));
        Assert.Equal(("d0", "pci/0000:00:11.0", "vhost_vdpa"), (written.Name, written.Parent, written.Driver));
    }

    [Fact]
    public void AParentOfUnknownKindKeepsEverything() => Assert.Same(Exported, VdpaProvisioning.Restorable(Exported, "ifcvf"));

    [Fact]
    public void TheNewFormIsCheckedAgainstWhatTheParentOffers()
    {
        var spec = new VdpaDeviceSpec { Name = "d0", Parent = "vdpasim_net", MaxQueuePairs = 64 };
        var problems = VdpaProvisioning.CheckFits(spec, SimNet, "vdpasim_net");
        Assert.Equal(
            ["parent 'vdpasim_net' (vdpasim_net) does not accept -MaxQueuePairs", "64 queue pairs need 128 virtqueues, and parent 'vdpasim_net' gives a device at most 3"],
            problems);

        Assert.Empty(VdpaProvisioning.CheckFits(spec with { MaxQueuePairs = null, Mtu = 1400 }, SimNet, "vdpasim_net"));
        Assert.Equal(["parent 'vdpasim_net' does not offer the features ACCESS_PLATFORM"],
            VdpaProvisioning.CheckFits(spec with { MaxQueuePairs = null, Features = 1UL << 33 | 1UL << 32 }, SimNet, "vdpasim_net"));
        Assert.Equal(["parent 'pci/0000:00:11.0' (vp-vdpa) does not accept -MacAddress"],
            VdpaProvisioning.CheckFits(new VdpaDeviceSpec { Name = "d0", Parent = "pci/0000:00:11.0", MacAddress = [2, 0, 0, 0, 0, 1] },
                new VdpaParent { Name = "pci/0000:00:11.0", BusName = "pci", DeviceName = "0000:00:11.0", SupportedClasses = [VirtioDeviceClass.Net] }, "vp-vdpa"));
        var blk = new VdpaParent { Name = "vdpasim_blk", DeviceName = "vdpasim_blk", SupportedClasses = [VirtioDeviceClass.Block] };
        Assert.Contains("makes no net devices", Assert.Single(VdpaProvisioning.CheckFits(new VdpaDeviceSpec { Name = "b", Parent = "vdpasim_blk", Mtu = 1400 }, blk, "mlx5_core")),
            StringComparison.Ordinal);

        // A parent whose driver is not known: attributes cannot be vouched for, so a removal would not be safe; names alone are.
        Assert.Contains("is not known", Assert.Single(VdpaProvisioning.CheckFits(spec with { MaxQueuePairs = null, Mtu = 1400 }, SimNet, "ifcvf")), StringComparison.Ordinal);
        Assert.Empty(VdpaProvisioning.CheckFits(new VdpaDeviceSpec { Name = "d0", Parent = "x" }, SimNet, null));
    }

    [Fact]
    public void AFileDeviceBecomesTheCreateItAsksFor()
    {
        var wanted = new VdpaDeviceDefinition { Name = "d0", Parent = "VDPASIM_NET", MacAddress = "02:00:00:00:00:01", Features = ["MAC", "VERSION_1"] };
        var spec = VdpaProvisioning.FromDefinition(wanted, SimNet, out var error)!;
        Assert.Null(error);
        Assert.Equal(("vdpasim_net", "02:00:00:00:00:01", (1UL << 5) | (1UL << 32)), (spec.Parent, VdpaText.FormatMacAddress(spec.MacAddress), spec.Features));
        // Features equal to the parent's offer are not sent (a device gets its parent's); a name of another class is refused.
        Assert.Null(VdpaProvisioning.FromDefinition(wanted with { Features = VirtioFeatures.GetNames(SimNet.SupportedFeatureMask!.Value, VirtioDeviceClass.Net) }, SimNet, out _)!.Features);
        Assert.Null(VdpaProvisioning.FromDefinition(wanted with { Features = ["FLUSH"] }, SimNet, out error));
        Assert.Contains("FLUSH", error, StringComparison.Ordinal);
    }
}

using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// A device's twin on another parent (VdpaTwin): each reason it cannot be made, on devices and parents recorded from the
/// lab's 6.12 and 6.1 kernels (Fixtures/, Fixtures/6.1/) and on written-out parents for what the lab does not have.
/// </summary>
public sealed class TwinTests
{
    // Bits from the virtio headers, not from the code under test: MTU 3, MAC 5, STATUS 16, CTRL_VQ 17, MQ 22, VERSION_1 32,
    // ACCESS_PLATFORM 33.
    private const ulong Mtu = 1UL << 3;
    private const ulong Mac = 1UL << 5;
    private const ulong Status = 1UL << 16;
    private const ulong ControlQueue = 1UL << 17;
    private const ulong MultiQueue = 1UL << 22;
    private const ulong Version1 = 1UL << 32;
    private const ulong AccessPlatform = 1UL << 33;

    private static VdpaClient Replay(string fixture) =>
        new(new NetlinkConnection(ReplayTransport.FromFixture(fixture + ".nlrec")), new GenericFamilyCache(), ownsConnection: true);

    /// <summary>The recorded vdpasim_net device fxnet0 (MAC 02:00:00:00:00:11, MTU 9000) of a kernel, as its source.</summary>
    private static VdpaTwinSource RecordedDevice(string folder, string? computer = "h1")
    {
        using var client = Replay(folder + "config-get-net");
        return VdpaTwinSource.FromConfig(client.GetConfig("fxnet0"), computer);
    }

    /// <summary>A recorded parent, described as its host would: no devices there, vdpasim_net's driver, a family that takes features.</summary>
    private static VdpaTwinDestination RecordedParent(string folder, string name, string[]? devices = null)
    {
        using var client = Replay(folder + "mgmtdev-dump");
        var parent = client.GetParents().Single(p => p.Name == name);
        var host = (devices ?? []).Select(d => new VdpaDevice { Name = d, Parent = "elsewhere" }).ToList();
        VdpaTwin.Describe(parent, name, VdpaFamilyCapabilities.Current, host, _ => null);
        return new VdpaTwinDestination(parent, "h2");
    }

    private static VdpaParent PciParent(ulong features, uint maxQueues = 3, string[]? devices = null, string? ownMac = null, ushort? ownPairs = null) => new()
    {
        Name = "pci/0000:00:11.0",
        BusName = "pci",
        DeviceName = "0000:00:11.0",
        SupportedClasses = [VirtioDeviceClass.Net],
        MaxQueues = maxQueues,
        SupportedFeatureMask = features,
        PciDriver = VdpaSysfs.VirtioPciParentDriver,
        Devices = devices ?? [],
        HostDevices = devices ?? [],
        CreationAttributes = ["Feature"],
        FeatureProvisioning = true,
        OwnMacAddress = ownMac,
        OwnMaxQueuePairs = ownPairs,
    };

    private static VdpaTwinSource Source(ulong features, string? mac = null, ushort? mtu = null, ushort pairs = 1) =>
        new("vm7-net0", "h1", VirtioDeviceClass.Net, features, mac, mtu, pairs);

    private static string[] Reasons(VdpaMigrationCheck check) => [.. check.Reasons.Select(r => r.ToString())];

    [Fact]
    public void ADevice612OffersStatusWhich61sSimulatorLacks()
    {
        // 6.12's vdpasim_net offers STATUS, 6.1's does not: iproute2 printed both masks when they were recorded.
        var check = VdpaTwin.Check(RecordedDevice(string.Empty), RecordedParent("6.1/", "vdpasim_net"));

        Assert.Equal(["FeatureMissing:STATUS"], Reasons(check));
        Assert.False(check.CanCreateTwin);
        Assert.Equal(("h1", "h2", "vdpasim_net"), (check.ComputerName, check.DestinationComputerName, check.Parent));
        Assert.Contains("bit 16", check.Reasons[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADevice61MovesTo612AndTheTwinCarriesEverything()
    {
        var source = RecordedDevice("6.1/");
        var destination = RecordedParent(string.Empty, "vdpasim_net");

        var check = VdpaTwin.Check(source, destination);
        var spec = VdpaTwin.Spec(source, destination);

        Assert.True(check.CanCreateTwin, string.Join("; ", check.Reasons.Select(r => r.Message)));
        Assert.Equal(source.FeatureMask, check.DeviceFeatureMask);
        Assert.Equal(("fxnet0", "vdpasim_net"), (spec.Name, spec.Parent));
        Assert.Equal("02:00:00:00:00:11", VdpaText.FormatMacAddress(spec.MacAddress!));
        Assert.Equal((ushort)9000, spec.Mtu);
        // vdpasim_net does not set queue pairs: none are sent (the source has one, which its device has without MQ).
        Assert.Null(spec.MaxQueuePairs);
        Assert.Equal(source.FeatureMask, spec.Features);
    }

    [Fact]
    public void ANameTakenOnTheDestinationHostIsAReason()
    {
        var check = VdpaTwin.Check(RecordedDevice(string.Empty), RecordedParent(string.Empty, "vdpasim_net", devices: ["fxnet0"]));

        Assert.Equal(["NameTaken"], Reasons(check));
    }

    [Fact]
    public void ANetDeviceOnABlockParentIsAClassMismatch()
    {
        var check = VdpaTwin.Check(RecordedDevice(string.Empty), RecordedParent(string.Empty, "vdpasim_blk"));

        Assert.Equal(["ClassMismatch"], Reasons(check));
    }

    [Fact]
    public void EachMissingFeatureIsItsOwnReason()
    {
        var check = VdpaTwin.Check(Source(Mac | ControlQueue | MultiQueue | Version1 | Status), new(PciParent(Mac | Version1), "h2"));

        Assert.Equal(["FeatureMissing:STATUS", "FeatureMissing:CTRL_VQ", "FeatureMissing:MQ"], Reasons(check).Where(r => r.StartsWith("Feature", StringComparison.Ordinal)));
    }

    [Fact]
    public void QueuePairsBeyondTheParentsVirtqueuesAreAReason()
    {
        // 4 pairs and the control queue need 9 virtqueues; the parent gives 8, then 9.
        var source = Source(Mac | ControlQueue | MultiQueue | Version1, "52:54:00:00:11:00", pairs: 4);

        Assert.Contains("QueuePairsAboveLimit", Reasons(VdpaTwin.Check(source, new(PciParent(Mac | ControlQueue | MultiQueue | Version1, 8, ownMac: "52:54:00:00:11:00", ownPairs: 4), "h2"))));
        Assert.Empty(VdpaTwin.Check(source, new(PciParent(Mac | ControlQueue | MultiQueue | Version1, 9, ownMac: "52:54:00:00:11:00", ownPairs: 4), "h2")).Reasons);
    }

    [Fact]
    public void WhatVpVdpaCannotSetMustBeWhatItsDeviceHas()
    {
        var parent = PciParent(Mac | ControlQueue | MultiQueue | Version1, maxQueues: 9, ownMac: "52:54:00:00:11:00", ownPairs: 1);
        var source = Source(Mac | ControlQueue | MultiQueue | Version1, "02:00:00:00:00:01", pairs: 2);

        Assert.Equal(["AttributeDiffers:MacAddress", "AttributeDiffers:MaxQueuePairs"], Reasons(VdpaTwin.Check(source, new(parent, "h2"))));
        // The same MAC in another case is the same MAC; what the parent sets, only features, goes in DEV_NEW.
        var same = Source(Mac | ControlQueue | MultiQueue | Version1, "52:54:00:00:11:00");
        Assert.Empty(VdpaTwin.Check(same, new(parent, "h2")).Reasons);
        var spec = VdpaTwin.Spec(same, new(parent, "h2"));
        Assert.Equal((null, null, null, (ulong?)(Mac | ControlQueue | MultiQueue | Version1)), (spec.MacAddress, spec.Mtu, spec.MaxQueuePairs, spec.Features));
    }

    [Fact]
    public void WhatNoDeviceShowsIsUnknownAndRefused()
    {
        // A free vp_vdpa parent: which MAC its function has is not known before a device is made on it.
        var check = VdpaTwin.Check(Source(Mac | Version1, "02:00:00:00:00:01"), new(PciParent(Mac | Version1), "h2"));

        Assert.Equal(["Unknown:MacAddress"], Reasons(check));
        Assert.Contains("not known", check.Reasons[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AVpVdpaParentWithADeviceIsOccupied()
    {
        var check = VdpaTwin.Check(Source(Version1), new(PciParent(Version1, devices: ["other0"]), "h2"));

        Assert.Equal(["ParentOccupied"], Reasons(check));
        Assert.Contains("'other0'", check.Reasons[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKernelWithoutFeatureProvisioningNamesTheReleaseThatHasIt()
    {
        var parent = PciParent(Mac | Version1 | AccessPlatform);
        parent.FeatureProvisioning = false;

        parent.OwnMacAddress = "02:00:00:00:00:01";

        var subset = VdpaTwin.Check(Source(Version1), new(parent, "h2"));
        var all = VdpaTwin.Check(Source(Mac | Version1 | AccessPlatform, "02:00:00:00:00:01"), new(parent, "h2"));

        Assert.Equal(["KernelCannotProvisionFeatures"], Reasons(subset));
        Assert.Contains("Linux 6.1", subset.Reasons[0].Message, StringComparison.Ordinal);
        // A device made without a feature set offers all of its parent's: the same set needs no DEV_FEATURES.
        Assert.Empty(all.Reasons);
    }

    [Fact]
    public void ADeserializedParentWithoutHostFactsIsRefusedAsUnknown()
    {
        // A parent from a module version that did not read them: each missing fact named, none guessed.
        var bare = new VdpaParent { Name = "vdpasim_net", SupportedClasses = [VirtioDeviceClass.Net], SupportedFeatureMask = Mac | Version1 | Mtu };

        var check = VdpaTwin.Check(Source(Mac | Version1, "02:00:00:00:00:01"), new(bare, "h2"));

        Assert.Equal(["Unknown:FeatureProvisioning", "Unknown:CreationAttributes", "Unknown:HostDevices"], Reasons(check));
    }

    [Fact]
    public void TheReadBackIsComparedBitForBit()
    {
        using var client = Replay("config-get-net");
        var config = client.GetConfig("fxnet0");
        var source = VdpaTwinSource.FromConfig(config, null);

        Assert.Empty(VdpaTwin.Differences(source, config));
        var differences = VdpaTwin.Differences(source with { FeatureMask = source.FeatureMask | MultiQueue, Mtu = 1500 }, config);
        Assert.Equal(2, differences.Count);
        Assert.Contains("it lacks MQ", differences[0], StringComparison.Ordinal);
        Assert.Contains("MTU is 9000", differences[1], StringComparison.Ordinal);
    }

    [Fact]
    public void TheErrorNamesEachReasonAndThatNothingWasSent()
    {
        var check = VdpaTwin.Check(Source(Mac | MultiQueue | Version1), new(PciParent(Mac | Version1, devices: ["vm7-net0"]), "h2"));

        var text = VdpaTwin.Describe(check);

        Assert.Contains("[FeatureMissing:MQ]", text, StringComparison.Ordinal);
        Assert.Contains("[NameTaken]", text, StringComparison.Ordinal);
        Assert.Contains("[ParentOccupied]", text, StringComparison.Ordinal);
        Assert.EndsWith("Nothing was sent.", text, StringComparison.Ordinal);
    }
}

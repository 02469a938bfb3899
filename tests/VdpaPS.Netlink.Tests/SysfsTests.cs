using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// What <see cref="VdpaSysfs"/> reads for a device, on a tree built in a temp folder with the layout the lab's kernels
/// show. The simulator's devices sit at /sys/devices/NAME with virtioN and its net/IF or block/vdX below them (the
/// DEVPATHs of Fixtures/uevents/6.12: add@/devices/ev-n1/virtio3/net/eth0, add@/devices/ev-b0/virtio3/block/vda);
/// vhost_vdpa adds a vhost-vdpa-N child (drivers/vhost/vdpa.c); a PCI parent is the function's directory, with its
/// numa_node (the lab has pci/0000:21:00.0 on NUMA node 1, tests/EndToEnd/PciParents.Tests.ps1; the bridges above it here are
/// illustrative), and virtio_vdpa puts virtioN under the function (the DMA device). Links are relative, as sysfs writes
/// them. Whether the kernel's own tree reads the same is the lab's test (tests/EndToEnd/Drivers.Tests.ps1).
/// </summary>
public sealed class SysfsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-sysfs-").FullName;

    private string Sys => Path.Combine(_root, "sys");

    private string Dev => Path.Combine(_root, "dev");

    private VdpaSysfs Sysfs => new(Sys, Dev);

    public SysfsTests()
    {
        Directory.CreateDirectory(Path.Combine(Sys, "bus/vdpa/drivers/vhost_vdpa"));
        Directory.CreateDirectory(Path.Combine(Sys, "bus/vdpa/drivers/virtio_vdpa"));
        Directory.CreateDirectory(Dev);

        // Unbound: no driver link, nothing below.
        Device("ev-n0", "devices/ev-n0", driver: null);

        // vhost_vdpa: the child and its char device (here a link to /dev/null, a char device a test can reach without root).
        Device("ev-h0", "devices/ev-h0", VdpaSysfs.VhostDriver);
        Directory.CreateDirectory(Path.Combine(Sys, "devices/ev-h0/vhost-vdpa-2"));
        File.CreateSymbolicLink(Path.Combine(Dev, "vhost-vdpa-2"), "/dev/null");

        // virtio_vdpa, net and block.
        Device("ev-n1", "devices/ev-n1", VdpaSysfs.VirtioDriver);
        Directory.CreateDirectory(Path.Combine(Sys, "devices/ev-n1/virtio3/net/eth0/queues/rx-0"));
        Device("ev-b0", "devices/ev-b0", VdpaSysfs.VirtioDriver);
        Directory.CreateDirectory(Path.Combine(Sys, "devices/ev-b0/virtio4/block/vda"));

        // A PCI parent: the function's directory holds numa_node, and virtioN for virtio_vdpa.
        Write("devices/pci0000:20/0000:20:00.0/0000:21:00.0/numa_node", "1\n");
        Device("vdpa0", "devices/pci0000:20/0000:20:00.0/0000:21:00.0/vdpa0", VdpaSysfs.VirtioDriver);
        Directory.CreateDirectory(Path.Combine(Sys, "devices/pci0000:20/0000:20:00.0/0000:21:00.0/virtio1/net/enp33s0"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void AnUnboundDeviceHasNoDriverNorAnythingItWouldMake()
    {
        var device = Describe("ev-n0");
        Assert.Null(device.Driver);
        Assert.Null(device.VhostDevicePath);
        Assert.Null(device.NetworkInterface);
        Assert.Null(device.BlockDevice);
        Assert.Null(device.ParentDevicePath); // the simulator has no hardware parent
        Assert.Null(device.NumaNode);
    }

    [Fact]
    public void AVhostBoundDeviceHasItsCharDevice()
    {
        var device = Describe("ev-h0");
        Assert.Equal(VdpaSysfs.VhostDriver, device.Driver);
        Assert.Equal(Path.Combine(Dev, "vhost-vdpa-2"), device.VhostDevicePath);
        Assert.Null(device.NetworkInterface);
    }

    [Fact]
    public void AVirtioBoundDeviceHasItsInterfaceOrDisk()
    {
        var net = Describe("ev-n1");
        Assert.Equal(VdpaSysfs.VirtioDriver, net.Driver);
        Assert.Equal("eth0", net.NetworkInterface);
        Assert.Null(net.BlockDevice);
        Assert.Null(net.VhostDevicePath);

        var block = Describe("ev-b0");
        Assert.Equal(Path.Combine(Dev, "vda"), block.BlockDevice);
        Assert.Null(block.NetworkInterface);
    }

    [Fact]
    public void APciParentGivesItsPathNumaNodeAndTheVirtioDeviceBelowIt()
    {
        var device = Describe("vdpa0");
        Assert.Equal(Path.Combine(Sys, "devices/pci0000:20/0000:20:00.0/0000:21:00.0"), device.ParentDevicePath);
        Assert.Equal(1, device.NumaNode);
        Assert.Equal("enp33s0", device.NetworkInterface);
    }

    [Fact]
    public void ADeviceReadAgainKeepsNothingSysfsNoLongerShows()
    {
        // A piped or refilled object: what sysfs showed before must not stay once the device was unbound or removed.
        var device = new VdpaDevice { Name = "ev-b0", Parent = "vdpasim_blk" };
        Sysfs.Describe(device);
        Assert.Equal(Path.Combine(Dev, "vda"), device.BlockDevice);

        File.Delete(Path.Combine(Sys, "devices/ev-b0/driver"));
        Directory.Delete(Path.Combine(Sys, "devices/ev-b0/virtio4"), recursive: true);
        Sysfs.Describe(device);
        Assert.Null(device.Driver);
        Assert.Null(device.BlockDevice);

        var net = Describe("ev-n1");
        File.Delete(Path.Combine(Sys, "bus/vdpa/devices/ev-n1"));
        Sysfs.StartListing().Describe(net);
        Assert.Equal((null, null, null, null, null, null), (net.Driver, net.VhostDevicePath, net.NetworkInterface, net.BlockDevice, net.ParentDevicePath, net.NumaNode));
        Assert.Equal("ev-b0", device.Name); // what netlink said stays
        Assert.Equal("vdpasim_blk", device.Parent);
    }

    [Fact]
    public void UnderAParentWithSeveralVirtioBoundDevicesNoneIsGivenAnotherOnesInterfaceOrDisk()
    {
        // Two devices of one PCI function bound to virtio_vdpa: their virtioN sit side by side below the function, and the
        // kernel links neither to its vDPA device.
        const string Function = "devices/pci0000:20/0000:20:01.0/0000:22:00.0";
        Device("vdpa1", $"{Function}/vdpa1", VdpaSysfs.VirtioDriver);
        Device("vdpa2", $"{Function}/vdpa2", VdpaSysfs.VirtioDriver);
        Write($"{Function}/virtio5/device", "0x0001\n");
        Directory.CreateDirectory(Path.Combine(Sys, Function, "virtio5/net/enp34s0"));
        Write($"{Function}/virtio6/device", "0x0002\n");
        Directory.CreateDirectory(Path.Combine(Sys, Function, "virtio6/block/vdc"));

        foreach (var name in new[] { "vdpa1", "vdpa2" })
        {
            var device = new VdpaDevice { Name = name, Type = VirtioDeviceClass.Block, VirtioDeviceId = 2 };
            Sysfs.Describe(device);
            Assert.Null(device.NetworkInterface);
            Assert.Null(device.BlockDevice);
            Assert.Contains("cannot be told apart", device.VirtioUncertainty, StringComparison.Ordinal);
            Assert.Contains("virtio5, virtio6", device.VirtioUncertainty, StringComparison.Ordinal);
        }

        // Once the other is bound elsewhere, the one left bound to virtio_vdpa owns the virtioN of its kind.
        File.Delete(Path.Combine(Sys, Function, "vdpa2/driver"));
        var only = new VdpaDevice { Name = "vdpa1", Type = VirtioDeviceClass.Block, VirtioDeviceId = 2 };
        Sysfs.Describe(only);
        Assert.Equal(Path.Combine(Dev, "vdc"), only.BlockDevice);
        Assert.Null(only.NetworkInterface);
        Assert.Null(only.VirtioUncertainty);
    }

    [Fact]
    public void EveryDeviceOnTheBusIsNamedInOrder()
    {
        Assert.Equal(["ev-b0", "ev-h0", "ev-n0", "ev-n1", "vdpa0"], Sysfs.GetDeviceNames());
        Assert.Empty(new VdpaSysfs(Path.Combine(_root, "none"), Dev).GetDeviceNames());
    }

    [Fact]
    public void TheDriverIsReadByName()
    {
        Assert.Equal(VdpaSysfs.VhostDriver, Sysfs.GetDriver("ev-h0"));
        Assert.Null(Sysfs.GetDriver("ev-n0"));
        Assert.Null(Sysfs.GetDriver("gone"));
    }

    [Fact]
    public void AListingReadsEachParentOnceAndDescribesEveryDeviceAsAloneItWould()
    {
        var listing = Sysfs.StartListing();
        foreach (var name in new[] { "ev-n0", "ev-h0", "ev-n1", "ev-b0", "vdpa0" })
        {
            var alone = Describe(name);
            var listed = listing.Describe(new VdpaDevice { Name = name });
            Assert.Equal(
                (alone.Driver, alone.VhostDevicePath, alone.NetworkInterface, alone.BlockDevice, alone.ParentDevicePath, alone.NumaNode),
                (listed.Driver, listed.VhostDevicePath, listed.NetworkInterface, listed.BlockDevice, listed.ParentDevicePath, listed.NumaNode));
        }

        // The parent's NUMA node was read with the first of its devices: the listing keeps it, a new listing reads again.
        Write("devices/pci0000:20/0000:20:00.0/0000:21:00.0/numa_node", "0\n");
        Assert.Equal(1, listing.Describe(new VdpaDevice { Name = "vdpa0" }).NumaNode);
        Assert.Equal(0, Sysfs.StartListing().Describe(new VdpaDevice { Name = "vdpa0" }).NumaNode);
    }

    /// <summary>
    /// A bind the kernel does not take (here: the tree's driver link never changes) leaves the device's override as it
    /// was, so the next probe gives it its former driver, and the error says so.
    /// </summary>
    [Theory]
    [InlineData("(null)\n", "\n")]
    [InlineData("vhost_vdpa\n", "vhost_vdpa")]
    public void AFailedBindPutsTheFormerOverrideBack(string before, string after)
    {
        Write("devices/ev-h0/driver_override", before);
        Write("bus/vdpa/drivers/vhost_vdpa/unbind", string.Empty);
        Write("bus/vdpa/drivers/virtio_vdpa/bind", string.Empty);

        var e = Assert.Throws<VdpaSysfsException>(() => Sysfs.SetDriver("ev-h0", VdpaSysfs.VirtioDriver));
        Assert.Equal(VdpaSysfsFailure.BindNotEffective, e.Failure);
        Assert.Contains("put back as it was: bound to vhost_vdpa", e.Message, StringComparison.Ordinal);
        // A sysfs attribute takes each write whole; this regular file is overwritten from its start, so the last write is its beginning.
        Assert.StartsWith(after, File.ReadAllText(Path.Combine(Sys, "devices/ev-h0/driver_override")), StringComparison.Ordinal);
        Assert.Equal("ev-h0", File.ReadAllText(Path.Combine(Sys, "bus/vdpa/drivers/vhost_vdpa/unbind")));
    }

    /// <summary>
    /// A write the kernel refuses reaches the user with its errno and the file, as sriov_numvfs's do: sysfs answers a
    /// bind with ENODEV, EBUSY or EINVAL, and "failed" alone says nothing. Here the bind file is a directory (EISDIR).
    /// </summary>
    [Fact]
    public void ARefusedWriteKeepsTheKernelsErrnoAndNamesTheFile()
    {
        Write("devices/ev-h0/driver_override", "(null)\n");
        Write("bus/vdpa/drivers/vhost_vdpa/unbind", string.Empty);
        var bind = Path.Combine(Sys, "bus/vdpa/drivers/virtio_vdpa/bind");
        Directory.CreateDirectory(bind);

        var e = Assert.Throws<VdpaSysfsException>(() => Sysfs.SetDriver("ev-h0", VdpaSysfs.VirtioDriver));
        Assert.Equal(VdpaSysfsFailure.WriteFailed, e.Failure);
        Assert.Equal(21, e.Errno); // EISDIR
        Assert.Equal(bind, e.Path);
        Assert.Contains($"Writing 'ev-h0' to {bind} failed: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("(Is a directory)", e.Message, StringComparison.Ordinal);
    }

    private VdpaDevice Describe(string name)
    {
        var device = new VdpaDevice { Name = name };
        Sysfs.Describe(device);
        return device;
    }

    /// <summary>/sys/bus/vdpa/devices/NAME links to the device's directory; its driver link to the bus's driver.</summary>
    private void Device(string name, string path, string? driver)
    {
        var dir = Path.Combine(Sys, path);
        Directory.CreateDirectory(dir);
        var bus = Path.Combine(Sys, "bus/vdpa/devices");
        Directory.CreateDirectory(bus);
        File.CreateSymbolicLink(Path.Combine(bus, name), Path.GetRelativePath(bus, dir));
        if (driver is not null)
        {
            File.CreateSymbolicLink(Path.Combine(dir, "driver"), Path.GetRelativePath(dir, Path.Combine(Sys, "bus/vdpa/drivers", driver)));
        }
    }

    private void Write(string path, string text)
    {
        var full = Path.Combine(Sys, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }
}

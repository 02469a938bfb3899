using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Host;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// What <see cref="VdpaSriov"/> and <see cref="VdpaSysfs.DescribeParent"/> read, on the sysfs layout recorded in the lab's
/// kernels (tests/KernelLab/record-sriov-sysfs.sh, -m sriov: qemu 11's PFs 0000:01:00.0 with 3 VFs bound to vp-vdpa, and
/// 0000:02:00.0 with none), rebuilt in a temp folder: the same links, files and folders. Making VFs and binding them is
/// the kernel's, so it is tested in the lab (tests/EndToEnd/SriovParents.Tests.ps1), not here.
/// </summary>
public sealed class SriovSysfsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-sriov-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public static TheoryData<string> Series => new() { "6.12", "6.1" };

    /// <summary>Rebuilds the recorded layout under _root/sys; returns that folder.</summary>
    private string Load(string series)
    {
        var sys = Path.Combine(_root, "sys");
        foreach (var line in File.ReadAllLines(series == "6.12"
            ? Path.Combine(AppContext.BaseDirectory, "Fixtures", "sriov-sysfs.txt") // 6.12's fixtures are in Fixtures/ itself
            : Path.Combine(AppContext.BaseDirectory, "Fixtures", series, "sriov-sysfs.txt")))
        {
            var kind = line[0];
            var rest = line[2..];
            switch (kind)
            {
                case 'D':
                    Directory.CreateDirectory(Path.Combine(sys, rest));
                    break;
                case 'F':
                    var space = rest.IndexOf(' ');
                    var file = Path.Combine(sys, rest[..space]);
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    File.WriteAllText(file, rest[(space + 1)..] + "\n");
                    break;
                case 'L':
                    var parts = rest.Split(" -> ");
                    var link = Path.Combine(sys, parts[0]);
                    Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                    File.CreateSymbolicLink(link, parts[1]);
                    break;
            }
        }

        return sys;
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void ThePhysicalFunctionsAreListedWithTheirVfs(string series)
    {
        var sriov = new VdpaSriov(Load(series));
        var pfs = sriov.GetPhysicalFunctions();
        Assert.Equal(["0000:01:00.0", "0000:02:00.0"], pfs.Select(p => p.PciAddress));

        var pf = pfs[0];
        Assert.Equal("virtio-pci", pf.Driver);
        Assert.NotNull(pf.NetworkInterface); // virtio_net's interface sits under virtioN/net of the function
        Assert.Null(pf.NumaNode); // q35 with one node: numa_node -1
        Assert.Equal(3, pf.TotalVfs);
        Assert.Equal(3, pf.VfCount);
        Assert.True(pf.AutoProbe);
        Assert.Equal(["0000:01:00.1", "0000:01:00.2", "0000:01:00.3"], pf.VirtualFunctions.Select(v => v.PciAddress));
        Assert.Equal([0, 1, 2], pf.VirtualFunctions.Select(v => v.Index));
        Assert.All(pf.VirtualFunctions, v => Assert.Equal("vp-vdpa", v.Driver));
        Assert.All(pf.VirtualFunctions, v => Assert.Equal("0000:01:00.0", v.PhysicalFunction));

        Assert.Equal(1, pfs[1].TotalVfs);
        Assert.Equal(0, pfs[1].VfCount);
        Assert.Empty(pfs[1].VirtualFunctions);

        // A VF is no PF (no sriov_totalvfs), and the address may come without its domain.
        Assert.Null(sriov.GetPhysicalFunction("0000:01:00.1"));
        Assert.Equal("0000:02:00.0", sriov.GetPhysicalFunction("02:00.0")?.PciAddress);
        Assert.Equal("0000:01:00.0", sriov.GetPhysicalFunctionOf("0000:01:00.3"));
        Assert.Null(sriov.GetPhysicalFunctionOf("0000:01:00.0"));
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void AVfParentSaysItsPciDriverAndItsPf(string series)
    {
        var sysfs = new VdpaSysfs(Load(series));
        var vf = sysfs.DescribeParent(new VdpaParent { Name = "pci/0000:01:00.2", BusName = "pci", DeviceName = "0000:01:00.2" });
        Assert.Equal("vp-vdpa", vf.PciDriver);
        Assert.Equal("0000:01:00.0", vf.PhysicalFunction);

        var sim = sysfs.DescribeParent(new VdpaParent { Name = "vdpasim_net", DeviceName = "vdpasim_net" });
        Assert.Null(sim.PciDriver);
        Assert.Null(sim.PhysicalFunction);
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void EachVfSaysWhetherItIsAParentAndWhichDevicesItHolds(string series)
    {
        var pfs = new VdpaSriov(Load(series)).GetPhysicalFunctions();
        VdpaSriov.AddVdpaState(pfs, ["pci/0000:01:00.1", "pci/0000:01:00.3", "vdpasim_net"],
            [("a", "pci/0000:01:00.1"), ("b", "pci/0000:01:00.3"), ("s", "vdpasim_net")]);
        var vfs = pfs[0].VirtualFunctions;
        Assert.Equal([true, false, true], vfs.Select(v => v.IsParent));
        Assert.Equal("pci/0000:01:00.1", vfs[0].ParentName);
        Assert.Equal(["a"], vfs[0].Devices);
        Assert.Empty(vfs[1].Devices);
        Assert.Equal(2, pfs[0].DeviceCount);
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void ADriverIsFoundByItsModuleNameToo(string series)
    {
        var sriov = new VdpaSriov(Load(series));
        Assert.Equal("vp-vdpa", sriov.FindDriver("vp_vdpa"));
        Assert.Equal("vp-vdpa", sriov.FindDriver("vp-vdpa"));
        Assert.Null(sriov.FindDriver("mlx5_core"));
        Assert.Null(sriov.FindDriver("../vp-vdpa"));
    }

    [Theory]
    [MemberData(nameof(Series))]
    public void AFileSPhysicalFunctionsAreComparedAndExportedAsTheHostHasThem(string series)
    {
        var host = new VdpaSriov(Load(series)).GetPhysicalFunctions();
        static VdpaConfiguration File(params VdpaPhysicalFunctionDefinition[] pfs) => new() { PhysicalFunctions = pfs, Devices = [] };
        static VdpaPhysicalFunctionDefinition Pf(string address, int count, string? driver = null) =>
            new() { PciAddress = address, VfCount = count, VfDriver = driver };

        // The host as recorded: 0000:01:00.0 with 3 VFs on vp-vdpa, 0000:02:00.0 with none.
        Assert.Empty(VdpaConfigurationDiff.ComparePhysicalFunctions(
            File(Pf("0000:01:00.0", 3, "vp_vdpa"), Pf("0000:02:00.0", 0)), host));

        var count = Assert.Single(VdpaConfigurationDiff.ComparePhysicalFunctions(File(Pf("0000:02:00.0", 1, "vp-vdpa")), host));
        Assert.Equal(("0000:02:00.0", VdpaConfigurationChange.PhysicalFunction, "vfCount", "1", "0"), (count.Name, count.Change, count.Attribute, count.Desired, count.Actual));

        var driver = Assert.Single(VdpaConfigurationDiff.ComparePhysicalFunctions(File(Pf("0000:01:00.0", 3, "mlx5_core")), host));
        Assert.Equal(("vfDriver", "mlx5_core", "vp-vdpa"), (driver.Attribute, driver.Desired, driver.Actual));

        var missing = Assert.Single(VdpaConfigurationDiff.ComparePhysicalFunctions(File(Pf("0000:03:00.0", 1)), host));
        Assert.Equal("address", missing.Attribute);

        // Export: only the PFs whose VFs are there, with their common driver.
        var exported = Assert.Single(VdpaConfigurationDiff.ExportPhysicalFunctions(host));
        Assert.Equal(new VdpaPhysicalFunctionDefinition { PciAddress = "0000:01:00.0", VfCount = 3, VfDriver = "vp-vdpa" }, exported);
    }

    [Theory]
    [InlineData("0000:01:00.0", "0000:01:00.0")]
    [InlineData("01:00.0", "0000:01:00.0")]
    [InlineData("pci/0000:3B:00.1", "0000:3b:00.1")]
    [InlineData("0000:01:00", null)]
    [InlineData("0000:01:00.0/../x", null)]
    [InlineData("vdpasim_net", null)]
    public void AnAddressIsTakenWithOrWithoutItsDomain(string typed, string? expected) =>
        Assert.Equal(expected, VdpaSriov.NormalizeAddress(typed));
}

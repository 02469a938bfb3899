using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>The one parent-name function: every spelling a user or a file may give, and every caller agreeing on it.</summary>
public class VdpaParentNameTests
{
    private static readonly VdpaParent[] Parents =
    [
        new() { Name = "pci/0000:00:10.0", BusName = "pci", DeviceName = "0000:00:10.0" },
        new() { Name = "pci/0000:21:00.0", BusName = "pci", DeviceName = "0000:21:00.0" },
        new() { Name = "pci/0001:00:1f.7", BusName = "pci", DeviceName = "0001:00:1f.7" },
        new() { Name = "auxiliary/mlx5_core.sf.1", BusName = "auxiliary", DeviceName = "mlx5_core.sf.1" },
        new() { Name = "vdpasim_net", DeviceName = "vdpasim_net" },
        new() { Name = "vduse", DeviceName = "vduse" },
    ];

    [Theory]
    [InlineData("pci/0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("PCI/0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("00:10.0", "pci/0000:00:10.0")]
    [InlineData("pci/00:10.0", "pci/0000:00:10.0")]
    [InlineData("0001:00:1F.7", "pci/0001:00:1f.7")]
    [InlineData("00:1F.7", "pci/0000:00:1f.7")]
    [InlineData("vdpasim_net", "vdpasim_net")]
    [InlineData("VDUSE", "VDUSE")]
    [InlineData("auxiliary/mlx5_core.sf.1", "auxiliary/mlx5_core.sf.1")]
    [InlineData("00:10.8", "00:10.8")] // function 8 does not exist: not an address
    [InlineData("0:10.0", "0:10.0")]
    public void TheCanonicalNameOfEverySpelling(string typed, string canonical) => Assert.Equal(canonical, VdpaParentName.Canonical(typed));

    [Theory]
    [InlineData("pci/0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("PCI/0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("0000:00:10.0", "pci/0000:00:10.0")]
    [InlineData("00:10.0", "pci/0000:00:10.0")]
    [InlineData("pci/00:10.0", "pci/0000:00:10.0")]
    [InlineData("0000:21:00.0", "pci/0000:21:00.0")]
    [InlineData("21:00.0", "pci/0000:21:00.0")]
    [InlineData("0001:00:1F.7", "pci/0001:00:1f.7")]
    [InlineData("mlx5_core.sf.1", "auxiliary/mlx5_core.sf.1")]
    [InlineData("AUXILIARY/MLX5_CORE.SF.1", "auxiliary/mlx5_core.sf.1")]
    [InlineData("VDPASIM_NET", "vdpasim_net")]
    [InlineData("vduse", "vduse")]
    [InlineData("00:1f.7", null)] // domain 0001 has no short form
    [InlineData("0000:00:13.0", null)]
    [InlineData("auxiliary/0000:00:10.0", null)]
    [InlineData("vdpasim_blk", null)]
    public void EverySpellingResolvesToTheKernelsName(string typed, string? expected) =>
        Assert.Equal(expected, VdpaParentName.Resolve(typed, Parents)?.Name);

    [Fact]
    public void AnAddressOnTwoBusesIsAmbiguousAndResolvesToNothing()
    {
        VdpaParent[] parents =
        [
            new() { Name = "pci/x", BusName = "pci", DeviceName = "x" },
            new() { Name = "auxiliary/x", BusName = "auxiliary", DeviceName = "x" },
        ];

        Assert.Null(VdpaParentName.Resolve("x", parents));
        Assert.Equal("auxiliary/x", VdpaParentName.Resolve("AUXILIARY/x", parents)?.Name);
    }

    [Fact]
    public void EverySpellingAWildcardIsTriedAgainstMatchesItsParent()
    {
        Assert.Equal(["pci/0000:00:10.0", "0000:00:10.0", "00:10.0"], VdpaParentName.Spellings("pci/0000:00:10.0"));
        Assert.Equal(["pci/0001:00:1f.7", "0001:00:1f.7"], VdpaParentName.Spellings("pci/0001:00:1f.7"));
        Assert.Equal(["vdpasim_net"], VdpaParentName.Spellings("vdpasim_net"));
        foreach (var parent in Parents)
        {
            foreach (var spelling in VdpaParentName.Spellings(parent.Name))
            {
                Assert.True(VdpaParentName.Matches(spelling, parent.Name), $"{spelling} -> {parent.Name}");
                Assert.Equal(parent.Name, VdpaParentName.Resolve(spelling, Parents)?.Name);
            }
        }
    }

    /// <summary>The diff (Compare, Sync) and the read-back after a create agree with the resolution: a file naming a parent by its short address converges.</summary>
    [Theory]
    [InlineData("00:10.0")]
    [InlineData("0000:00:10.0")]
    [InlineData("PCI/0000:00:10.0")]
    public void TheDiffMatchesAFileParentInAnySpelling(string written)
    {
        var device = new VdpaDevice { Name = "p0", Parent = "pci/0000:00:10.0", ParentBusName = "pci", ParentDeviceName = "0000:00:10.0", Type = VirtioDeviceClass.Net };
        var state = VdpaDeviceState.FromDevice(device, null);
        var wanted = new VdpaDeviceDefinition { Name = "p0", Parent = written };
        Assert.Empty(VdpaConfigurationDiff.CompareDevice(wanted, state, macSettable: true));
        var elsewhere = new VdpaDeviceDefinition { Name = "p0", Parent = "00:11.0" };
        Assert.Equal("parent", Assert.Single(VdpaConfigurationDiff.CompareDevice(elsewhere, state, macSettable: true)).Attribute);
    }
}

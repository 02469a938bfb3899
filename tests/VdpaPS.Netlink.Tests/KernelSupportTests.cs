using System.IO.Compression;
using System.Text;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>Why the vdpa family is missing, told from the files a real system has (in a scratch root), and on this machine.</summary>
public sealed class KernelSupportTests : IDisposable
{
    private const string Release = "6.1.0-57-amd64";
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-ks-").FullName;

    [Fact]
    public void ADebian12KernelConfigWithoutVdpaIsNotBuilt()
    {
        Write($"boot/config-{Release}", "CONFIG_VHOST_MENU=y\n# CONFIG_VDPA is not set\n");

        var d = new VdpaKernelSupport(_root, Release).Diagnose();

        Assert.Equal(VdpaAbsence.NotBuilt, d.Reason);
        Assert.Contains($"/boot/config-{Release}", d.Evidence);
    }

    [Fact]
    public void AModuleConfigWithoutTheLoadedModuleIsNotLoaded()
    {
        Write($"boot/config-{Release}", "CONFIG_VDPA=m\n");

        Assert.Equal(VdpaAbsence.NotLoaded, new VdpaKernelSupport(_root, Release).Diagnose().Reason);
    }

    [Fact]
    public void ModulesDepDecidesWhenThereIsNoConfig()
    {
        Write($"lib/modules/{Release}/modules.dep", "kernel/drivers/vdpa/vdpa.ko:\nkernel/drivers/vhost/vhost_vdpa.ko: kernel/drivers/vdpa/vdpa.ko\n");
        Assert.Equal(VdpaAbsence.NotLoaded, new VdpaKernelSupport(_root, Release).Diagnose().Reason);

        Write($"lib/modules/{Release}/modules.dep", "kernel/net/core/x.ko:\n");
        Assert.Equal(VdpaAbsence.NotBuilt, new VdpaKernelSupport(_root, Release).Diagnose().Reason);
    }

    [Theory]
    [InlineData("kernel/drivers/vdpa/vdpa.ko.xz")] // Fedora, Debian
    [InlineData("kernel/drivers/vdpa/vdpa.ko.zst")] // Ubuntu, Arch
    [InlineData("kernel/drivers/vdpa/vdpa.ko.gz")]
    [InlineData("extra/vdpa.ko")] // built apart (the lab's 6.1)
    public void ModulesDepNamesACompressedOrRelocatedModule(string module)
    {
        Write($"lib/modules/{Release}/modules.dep", $"kernel/drivers/vhost/vhost_vdpa.ko.xz: {module}\n{module}:\n");

        var d = new VdpaKernelSupport(_root, Release).Diagnose();

        Assert.Equal(VdpaAbsence.NotLoaded, d.Reason);
        Assert.Contains(module, d.Evidence);
    }

    [Fact]
    public void ModulesDepWithOnlyOtherVdpaModulesIsNotBuilt()
    {
        // vhost_vdpa.ko.xz and a dependency list naming vdpa.ko are not the module's own line.
        Write($"lib/modules/{Release}/modules.dep", "kernel/drivers/vhost/vhost_vdpa.ko.xz: kernel/drivers/vdpa/vdpa.ko.xz\n");

        Assert.Equal(VdpaAbsence.NotBuilt, new VdpaKernelSupport(_root, Release).Diagnose().Reason);
    }

    [Fact]
    public void ProcConfigGzIsReadToo()
    {
        var path = Path.Combine(_root, "proc/config.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
        {
            gz.Write(Encoding.ASCII.GetBytes("# CONFIG_VDPA is not set\n"));
        }

        var d = new VdpaKernelSupport(_root, Release).Diagnose();

        Assert.Equal(VdpaAbsence.NotBuilt, d.Reason);
        Assert.Contains("/proc/config.gz", d.Evidence);
    }

    [Fact]
    public void ALoadedModuleThatNlctrlDoesNotListIsNotVisible()
    {
        Directory.CreateDirectory(Path.Combine(_root, "sys/module/vdpa"));

        Assert.Equal(VdpaAbsence.NotVisible, new VdpaKernelSupport(_root, Release).Diagnose().Reason);
    }

    [Fact]
    public void NothingToReadIsUnknown()
    {
        Assert.Equal(VdpaAbsence.Unknown, new VdpaKernelSupport(_root, Release).Diagnose().Reason);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

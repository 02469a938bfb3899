using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>Who may hold vdpa's lock while a request waits, told from a scratch /sys and /proc as a real system lays them out.</summary>
public sealed class LockHoldersTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-lock-").FullName;

    private string Sys => Path.Combine(_root, "sys");

    private string Proc => Path.Combine(_root, "proc");

    [Fact]
    public void AVduseDeviceWithAVdpaDeviceAndNoDaemonIsNamedWithItsMessageTimeout()
    {
        Vduse("served", timeout: 30, vdpaDevice: true);
        Vduse("orphan", timeout: 7, vdpaDevice: true);
        Vduse("idle", timeout: 30, vdpaDevice: false); // no vdpa device: nothing sends it messages
        Process(4242, "vduse-blk", "/dev/vduse/served");
        Process(4243, "bash", "/dev/null");

        var holders = new VdpaLockHolders(Sys, Proc, "/dev", () => []);
        var found = holders.Find();

        var only = Assert.Single(found);
        Assert.Equal("VDUSE device 'orphan', which has no daemon (no process has /dev/vduse/orphan open): the kernel waits up to its msg_timeout of 7 s " +
            "for each message to it", only.Description);
        Assert.Equal(TimeSpan.FromSeconds(7), holders.LongestHold());
        Assert.StartsWith("the vdpa lock may be held by VDUSE device 'orphan'", holders.Describe());
    }

    [Fact]
    public void AServedVduseDeviceIsNamedWithItsDaemonWhenNothingLikelierIs()
    {
        Vduse("served", timeout: 30, vdpaDevice: true);
        Process(4242, "vduse-blk", "/dev/vduse/served");

        var only = Assert.Single(new VdpaLockHolders(Sys, Proc, "/dev", () => []).Find());
        Assert.StartsWith("VDUSE device 'served', should its daemon (vduse-blk, pid 4242) not answer", only.Description);
    }

    [Fact]
    public void ThisProcesssStoppedRequestsComeFirstButNotTheOneThatWaits()
    {
        Vduse("orphan", timeout: 30, vdpaDevice: true);
        var devNew = new NetlinkRequestCanceledException(new GenericRequest(0x23, 3, 1, false, "vdpa DEV_NEW"), 5);
        var devGet = new NetlinkRequestCanceledException(new GenericRequest(0x23, 5, 1, false, "vdpa DEV_GET"), 6);
        var holders = new VdpaLockHolders(Sys, Proc, "/dev", () => [(devNew, TimeSpan.FromSeconds(3)), (devGet, TimeSpan.Zero)]);

        var said = holders.Describe(waiting: devGet);

        Assert.StartsWith("the vdpa lock may be held by this process's vdpa DEV_NEW, stopped 3 s ago, which the kernel is still running; or VDUSE device 'orphan'", said);
        Assert.DoesNotContain("DEV_GET", said);
    }

    [Fact]
    public void NothingFoundSaysWhatElseCanHoldIt()
    {
        var said = new VdpaLockHolders(Sys, Proc, "/dev", () => []).Describe();
        Assert.StartsWith("no VDUSE device without a daemon and no stopped request of this process was found", said);
        Assert.Null(new VdpaLockHolders(Sys, Proc, "/dev", () => []).LongestHold());
    }

    private void Vduse(string name, int timeout, bool vdpaDevice)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Sys, "class", "vduse", name)).FullName;
        File.WriteAllText(Path.Combine(dir, "msg_timeout"), $"{timeout}\n");
        Directory.CreateDirectory(Path.Combine(Sys, "class", "vduse", "control"));
        if (vdpaDevice)
        {
            Directory.CreateDirectory(Path.Combine(Sys, "bus", "vdpa", "devices", name));
        }
    }

    private void Process(int pid, string command, string openFile)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Proc, $"{pid}", "fd")).FullName;
        File.WriteAllText(Path.Combine(Proc, $"{pid}", "comm"), command + "\n");
        File.CreateSymbolicLink(Path.Combine(dir, "3"), openFile);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

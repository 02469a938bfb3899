using System.Diagnostics;
using System.Text;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The uevent parser and the vDPA meaning of uevents, on uevents recorded in the lab (Fixtures/uevents/SERIES, by
/// tests/KernelLab/record-uevents.sh: add, bind, unbind and remove of vdpasim devices with vhost_vdpa and virtio_vdpa, the net
/// interfaces and disks virtio_vdpa made, and a parent's module unloaded and loaded); and the subscription on this machine's kernel.
/// </summary>
public sealed class UeventTests
{
    public static TheoryData<string> Kernels => new() { "6.12", "6.1" };

    private static IReadOnlyList<Uevent> Recorded(string kernel, string scenario)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "uevents", kernel, $"uevents-{scenario}.uevents");
        return [.. NetlinkRecording.Parse(File.ReadLines(path)).Select(d => Uevent.Parse(d.Datagram) ?? throw new InvalidDataException($"{path}: not a uevent"))];
    }

    private static List<string> DeviceEvents(IEnumerable<Uevent> uevents, VdpaDeviceEventTracker? tracker = null)
    {
        tracker ??= new VdpaDeviceEventTracker();
        return [.. uevents.Select(u => tracker.Translate(u, DateTime.UnixEpoch)).OfType<VdpaDeviceEvent>().Select(e => $"{e.Action} {e.Name} {e.Driver}".TrimEnd())];
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EveryRecordedUeventParsesAsTheKernelDescribesItself(string kernel)
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "uevents", kernel), "*.uevents");
        Assert.Equal(5, files.Length);
        foreach (var file in files)
        {
            ulong? previous = null;
            foreach (var (_, datagram) in NetlinkRecording.Parse(File.ReadLines(file)))
            {
                var uevent = Uevent.Parse(datagram);
                Assert.NotNull(uevent);
                // The header and the properties say the same thing twice: the parser must read both alike.
                Assert.Equal(uevent.Action, uevent.Get("ACTION"));
                Assert.Equal(uevent.DevicePath, uevent.Get("DEVPATH"));
                Assert.NotNull(uevent.Subsystem);
                Assert.NotNull(uevent.SequenceNumber);
                Assert.True(previous is null || uevent.SequenceNumber > previous, $"{file}: SEQNUM must grow");
                previous = uevent.SequenceNumber;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void AVhostBindingIsAddBindUnbindRemoveWithTheDriverNamedOnBothBindEvents(string kernel)
    {
        var uevents = Recorded(kernel, "net-vhost");

        // /dev/vhost-vdpa-N has no class, so it sends no uevent: the vdpa bind is the only sign of it.
        Assert.All(uevents, u => Assert.Equal("vdpa", u.Subsystem));
        Assert.Equal(["Added ev-n0", "Bound ev-n0 vhost_vdpa", "Unbound ev-n0 vhost_vdpa", "Removed ev-n0"], DeviceEvents(uevents));
        Assert.Equal("vhost_vdpa", uevents[1].Driver);
        Assert.Null(uevents[2].Driver);
        Assert.Equal("/devices/ev-n0", uevents[0].DevicePath);
        Assert.Equal("ev-n0", uevents[0].Name);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void AVirtioNetBindingAddsItsInterfaceBeforeTheVdpaBind(string kernel)
    {
        var uevents = Recorded(kernel, "net-virtio");

        Assert.Equal(["Added ev-n1", "Bound ev-n1 virtio_vdpa", "Unbound ev-n1 virtio_vdpa", "Removed ev-n1"], DeviceEvents(uevents));
        var netdev = Array.FindIndex([.. uevents], u => u is { Action: "add", Subsystem: "net" });
        var bind = Array.FindIndex([.. uevents], u => u is { Action: "bind", Subsystem: "vdpa" });
        Assert.InRange(netdev, 0, bind - 1);
        Assert.Equal(uevents[netdev].Name, uevents[netdev].Get("INTERFACE"));
        Assert.StartsWith("/devices/ev-n1/virtio", uevents[netdev].DevicePath, StringComparison.Ordinal);
        Assert.True(VdpaUevents.MayAffectDevices(uevents[netdev]));
        Assert.Contains(uevents, u => u.Subsystem == "queues" && !VdpaUevents.MayAffectDevices(u));
        Assert.Contains(uevents, u => u is { Action: "bind", Subsystem: "virtio", Driver: "virtio_net" });
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void AVirtioBlockBindingAddsItsDiskBeforeTheVdpaBind(string kernel)
    {
        var uevents = Recorded(kernel, "blk-virtio");

        Assert.Equal(["Added ev-b0", "Bound ev-b0 virtio_vdpa", "Unbound ev-b0 virtio_vdpa", "Removed ev-b0"], DeviceEvents(uevents));
        var disk = Array.FindIndex([.. uevents], u => u is { Action: "add", Subsystem: "block" });
        Assert.InRange(disk, 0, Array.FindIndex([.. uevents], u => u is { Action: "bind", Subsystem: "vdpa" }) - 1);
        Assert.Equal("disk", uevents[disk].Get("DEVTYPE"));
        Assert.Equal(uevents[disk].Name, uevents[disk].Get("DEVNAME"));
        Assert.True(VdpaUevents.MayAffectDevices(uevents[disk]));
        Assert.Contains(uevents, u => u.Subsystem == "bdi" && !VdpaUevents.MayAffectDevices(u));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ABoundDeviceRemovedIsUnboundFirstAndTheTrackerNamesItsDriver(string kernel)
    {
        var uevents = Recorded(kernel, "blk-bound-removed");

        Assert.Equal(["Added ev-b1", "Bound ev-b1 virtio_vdpa", "Unbound ev-b1 virtio_vdpa", "Removed ev-b1"], DeviceEvents(uevents));
        // Watching from after the bind: the driver comes from what sysfs said at the start.
        var afterBind = uevents.SkipWhile(u => !(u is { Action: "bind", Subsystem: "vdpa" })).Skip(1);
        Assert.Equal(["Unbound ev-b1 virtio_vdpa", "Removed ev-b1"],
            DeviceEvents(afterBind, new VdpaDeviceEventTracker([new("ev-b1", "virtio_vdpa")])));
        Assert.Equal(["Unbound ev-b1", "Removed ev-b1"], DeviceEvents(afterBind));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void AParentComesWithItsModulesAddAndLeavesWithItsRemove(string kernel)
    {
        var uevents = Recorded(kernel, "parent-module");

        Assert.Equal(["remove@/module/vdpa_sim_blk", "add@/module/vdpa_sim_blk"], uevents.Select(u => u.ToString()));
        Assert.Equal("module", uevents[1].Subsystem);
        Assert.False(VdpaUevents.MayAddParent(uevents[0]));
        Assert.True(VdpaUevents.MayAddParent(uevents[1]));
        Assert.Empty(DeviceEvents(uevents));
    }

    [Fact]
    public void UdevsLibudevMessagesAndTextWithoutAHeaderAreNotKernelUevents()
    {
        var kernel = NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "uevents", "6.12", "uevents-net-vhost.uevents")))[0].Datagram;
        Assert.NotNull(Uevent.Parse(kernel));

        // systemd's monitor header: "libudev\0", then a magic 0xfeedcafe and offsets; the properties follow. Rebroadcast by udevd, not the kernel.
        byte[] udev = [.. "libudev\0"u8, 0xfe, 0xed, 0xca, 0xfe, .. new byte[32], .. kernel.AsSpan(kernel.AsSpan().IndexOf((byte)0) + 1)];
        Assert.Null(Uevent.Parse(udev));
        Assert.Null(Uevent.Parse("ACTION=add\0DEVPATH=/devices/x\0"u8));
        Assert.Null(Uevent.Parse("add@\0"u8));
        Assert.Null(Uevent.Parse(ReadOnlySpan<byte>.Empty));
        var bare = Uevent.Parse("change@/devices/virtual/x\0"u8);
        Assert.Equal(("change", "/devices/virtual/x", 0), (bare!.Action, bare.DevicePath, bare.Properties.Count));
    }

    [Fact]
    public void AnUnknownActionOnTheVdpaBusIsNoDeviceEvent()
    {
        var change = Uevent.Parse(Encoding.ASCII.GetBytes("change@/devices/ev-n0\0ACTION=change\0DEVPATH=/devices/ev-n0\0SUBSYSTEM=vdpa\0SEQNUM=1\0"));
        Assert.Null(VdpaUevents.ActionOf(change!));
        Assert.Null(new VdpaDeviceEventTracker().Translate(change!, DateTime.UnixEpoch));
    }

    [Fact]
    public void AWaitWithNothingHappeningEndsAtItsTimeout()
    {
        using var monitor = UeventMonitor.Open();
        var watch = Stopwatch.StartNew();
        UeventBatch? batch;
        // This machine's kernel may send an event of its own meanwhile; then the wait goes on with what is left.
        do
        {
            batch = monitor.Receive(TimeSpan.FromMilliseconds(Math.Max(1, 300 - watch.ElapsedMilliseconds)), CancellationToken.None);
        }
        while (batch is not null && watch.ElapsedMilliseconds < 300);

        Assert.Null(batch);
        Assert.InRange(watch.ElapsedMilliseconds, 290, 2000);
    }

    [Fact]
    public void CancellingAWaitWithoutATimeoutEndsItAtOnce()
    {
        using var monitor = UeventMonitor.Open();
        using var cancel = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        cancel.CancelAfter(200);

        Assert.ThrowsAny<OperationCanceledException>(void () =>
        {
            // This machine's kernel may send an event of its own meanwhile; only the cancellation may end the loop.
            while (true)
            {
                _ = monitor.Receive(null, cancel.Token);
            }
        });
        Assert.InRange(watch.ElapsedMilliseconds, 190, 1500);
    }
}

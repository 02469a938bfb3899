using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// Parsing of /proc and /sys for the users of a device, on a tree built in a temp folder with the kernel's layouts
/// (proc(5): fd links, comm, status, mountinfo, swaps; sysfs-block: dev, partition, holders, dm/name; sysfs-class-net:
/// flags, master). Whether the kernel's own tree reads the same is the lab's test (tests/Lab/Lifecycle.Tests.ps1).
/// </summary>
public sealed class DeviceUsageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-usage-").FullName;

    private string Proc => Path.Combine(_root, "proc");

    private string Sys => Path.Combine(_root, "sys");

    private string Etc => Path.Combine(_root, "etc");

    private VdpaDeviceUsage Usage(Func<string, IReadOnlyList<string>>? addresses = null) =>
        new(Proc, Sys, Etc, addresses ?? (_ => []));

    public DeviceUsageTests()
    {
        Write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:108:Libvirt Qemu:/nonexistent:/usr/sbin/nologin\n");
        Write("proc/self/mountinfo", "22 1 0:21 / /proc rw,nosuid - proc proc rw\n");
        Write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        Process(1, "systemd", 0, ("0", "/dev/null"), ("1", "socket:[123]"));
    }

    [Fact]
    public void NamesTheProcessThatHoldsTheCharDeviceWithItsUser()
    {
        Process(4242, "qemu-system-x86", 64055, ("3", "/dev/kvm"), ("17", "/dev/vhost-vdpa-0"), ("18", "/dev/vhost-vdpa-0"));
        Process(4300, "qemu-system-x86", 1234, ("5", "/dev/vhost-vdpa-1"));

        var report = Usage().Find(new VdpaDevice { Name = "d0", VhostDevicePath = "/dev/vhost-vdpa-0" });

        var user = Assert.Single(report.Users);
        Assert.Equal("qemu-system-x86 (pid 4242, user libvirt-qemu) has /dev/vhost-vdpa-0 open", user.Description);
        Assert.Equal(4242, user.ProcessId);
        Assert.Equal(VdpaDeviceUseKind.OpenFile, user.Kind);
        Assert.True(report.InUse);
        Assert.Null(report.UninspectedNote);
    }

    [Fact]
    public void AUidWithoutAPasswdEntryIsGivenAsItsNumber()
    {
        Process(77, "vm", 1234, ("4", "/dev/vhost-vdpa-3"));
        var report = Usage().Find(new VdpaDevice { Name = "d0", VhostDevicePath = "/dev/vhost-vdpa-3" });
        Assert.Equal("vm (pid 77, user uid 1234) has /dev/vhost-vdpa-3 open", Assert.Single(report.Users).Description);
    }

    [Fact]
    public void AnUnusedDeviceHasNoUsers()
    {
        Process(4242, "qemu-system-x86", 64055, ("17", "/dev/vhost-vdpa-10"));
        var report = Usage().Find(new VdpaDevice { Name = "d0", VhostDevicePath = "/dev/vhost-vdpa-1" });
        Assert.False(report.InUse);
        Assert.Empty(report.Notes);
    }

    [Fact]
    public void FindsAMountedPartitionByItsNumbersAndUnescapesTheMountPoint()
    {
        Disk("vdb", "253:16", ("vdb1", "253:17"), ("vdb2", "253:18"));
        Write("proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n" +
            "40 22 253:17 / /srv/my\\040data rw,relatime shared:9 - ext4 /dev/vdb1 rw\n" +
            "41 22 253:160 / /other rw - ext4 /dev/vdk rw\n");

        var report = Usage().Find(new VdpaDevice { Name = "b0", BlockDevice = "/dev/vdb" });

        var user = Assert.Single(report.Users);
        Assert.Equal("/dev/vdb1 is mounted on /srv/my data", user.Description);
        Assert.Equal(VdpaDeviceUseKind.Mounted, user.Kind);
        Assert.Equal("/srv/my data", user.MountPoint);
    }

    [Fact]
    public void FindsTheDiskOrAPartitionOpenSwappedOrHeld()
    {
        Disk("vdc", "253:32", ("vdc1", "253:33"), ("vdc2", "253:34"));
        Process(99, "dd", 0, ("0", "/dev/vdc"));
        Process(100, "fsck.ext4", 0, ("3", "/dev/vdc2"));
        Write("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/vdc1                               partition\t1048572\t0\t-2\n");
        Directory.CreateDirectory(Path.Combine(Sys, "block", "vdc", "vdc2", "holders", "dm-0"));
        Write("sys/block/dm-0/dm/name", "vg-data\n");
        Directory.CreateDirectory(Path.Combine(Sys, "block", "vdc", "holders", "md127"));

        var said = Usage().Find(new VdpaDevice { Name = "b1", BlockDevice = "/dev/vdc" }).Users.Select(u => u.Description).Order(StringComparer.Ordinal);

        Assert.Equal(
            [
                "/dev/vdc is held by /dev/md127",
                "/dev/vdc1 is in use as swap",
                "/dev/vdc2 is held by /dev/dm-0 (device-mapper 'vg-data')",
                "dd (pid 99, user root) has /dev/vdc open",
                "fsck.ext4 (pid 100, user root) has /dev/vdc2 open",
            ],
            said);
    }

    [Fact]
    public void AnInterfaceUpWithAddressesAndAMasterIsANoteNotAUser()
    {
        Write("sys/class/net/eth1/flags", "0x1003\n");
        Directory.CreateDirectory(Path.Combine(Sys, "class", "net", "br0"));
        File.CreateSymbolicLink(Path.Combine(Sys, "class", "net", "eth1", "master"), "../br0");

        var report = Usage(n => n == "eth1" ? ["192.0.2.1/24", "fe80::1/64"] : []).Find(new VdpaDevice { Name = "n0", NetworkInterface = "eth1" });

        Assert.False(report.InUse);
        Assert.Equal(["interface eth1 is up with 192.0.2.1/24, fe80::1/64", "interface eth1 is enslaved to br0"], report.Notes);
    }

    [Fact]
    public void AnInterfaceThatIsDownAndBareIsNotMentioned()
    {
        Write("sys/class/net/eth2/flags", "0x1002\n");
        Assert.Empty(Usage().Find(new VdpaDevice { Name = "n1", NetworkInterface = "eth2" }).Notes);
    }

    private void Process(int pid, string comm, int uid, params (string Fd, string Target)[] fds)
    {
        Write($"proc/{pid}/comm", comm + "\n");
        Write($"proc/{pid}/status", $"Name:\t{comm}\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t0\t0\t0\t0\n");
        var fdDir = Directory.CreateDirectory(Path.Combine(Proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd")).FullName;
        foreach (var (fd, target) in fds)
        {
            File.CreateSymbolicLink(Path.Combine(fdDir, fd), target);
        }
    }

    private void Disk(string name, string numbers, params (string Name, string Numbers)[] partitions)
    {
        Write($"sys/block/{name}/dev", numbers + "\n");
        Directory.CreateDirectory(Path.Combine(Sys, "block", name, "holders"));
        Directory.CreateDirectory(Path.Combine(Sys, "block", name, "queue"));
        foreach (var (part, partNumbers) in partitions)
        {
            Write($"sys/block/{name}/{part}/dev", partNumbers + "\n");
            Write($"sys/block/{name}/{part}/partition", part[^1..] + "\n");
            Directory.CreateDirectory(Path.Combine(Sys, "block", name, part, "holders"));
        }
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// Parsing of /proc and /sys for the users of a device, on a tree built in a temp folder with the kernel's layouts
/// (proc(5): fd links, comm, status, mountinfo, swaps; sysfs-block: dev, partition, holders, dm/name; sysfs-class-net:
/// flags, master). Whether the kernel's own tree reads the same is the lab's test (tests/EndToEnd/Lifecycle.Tests.ps1).
/// </summary>
public sealed class DeviceUsageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-usage-").FullName;

    private string Proc => Path.Combine(_root, "proc");

    private string Sys => Path.Combine(_root, "sys");

    private string Etc => Path.Combine(_root, "etc");

    /// <summary>What an exclusive open of each node answers (0 when not listed): a temp tree has no block devices.</summary>
    private readonly Dictionary<string, int> _exclusive = new(StringComparer.Ordinal);

    /// <summary>Folders opendir refuses, with the errno: root, who runs these tests, may read every folder of a temp tree.</summary>
    private readonly Dictionary<string, int> _refused = new(StringComparer.Ordinal);

    private VdpaDeviceUsage Usage(Func<string, IReadOnlyList<string>>? addresses = null) =>
        new(Proc, Sys, Etc, addresses ?? (_ => []), path => _exclusive.GetValueOrDefault(path),
            dir => _refused.TryGetValue(dir, out var errno) ? ([], errno) : (VdpaSysfs.EntryNames(dir, out var e), e));

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
        Assert.Null(report.UncertainNote);
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

    [Fact]
    public void AProcessWhoseOpenFilesCannotBeReadMakesTheDeviceCountAsInUseNamingItAndWhy()
    {
        Process(4242, "qemu-system-x86", 64055, ("17", "/dev/vhost-vdpa-0"));
        Process(4300, "sleep", 0);
        _refused[Path.Combine(Proc, "4242", "fd")] = LinuxErrno.EACCES;
        _refused[Path.Combine(Proc, "4300", "fd")] = LinuxErrno.EACCES;
        // A kernel thread (PF_KTHREAD in its stat flags) has no open files: not counted, though its fd folder is refused too.
        Process(2, "kthreadd", 0);
        Write("proc/2/stat", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0\n");
        _refused[Path.Combine(Proc, "2", "fd")] = LinuxErrno.EACCES;
        // A process that ended while the list was read holds nothing.
        _refused[Path.Combine(Proc, "1", "fd")] = LinuxErrno.ENOENT;

        var report = Usage().Find(new VdpaDevice { Name = "d0", VhostDevicePath = "/dev/vhost-vdpa-0" });

        Assert.False(report.InUse);
        Assert.False(report.IsCertain);
        Assert.True(report.MayBeInUse);
        Assert.Equal([4242, 4300], report.UninspectedProcesses.Select(p => p.ProcessId));
        Assert.Equal("2 processes whose open files this user may not read (/proc/PID/fd: EACCES (Permission denied)): " +
            "qemu-system-x86 (pid 4242), sleep (pid 4300)", report.UncertainNote);
    }

    [Fact]
    public void ADeviceWithNothingToWatchLooksAtNoProcess()
    {
        _refused[Path.Combine(Proc, "1", "fd")] = LinuxErrno.EACCES;
        var report = Usage().Find(new VdpaDevice { Name = "n0" });
        Assert.True(report.IsCertain);
        Assert.False(report.MayBeInUse);
    }

    [Fact]
    public void NamesAMountInAnotherMountNamespaceOnceAndTheProcessItBelongsTo()
    {
        Disk("vdb", "253:16");
        Namespace("self", "mnt:[4026531841]");
        Namespace("1", "mnt:[4026531841]");
        Process(812, "sh", 0);
        Namespace("812", "mnt:[4026532300]");
        Process(813, "sleep", 0);
        Namespace("813", "mnt:[4026532300]");
        var mounted = "22 1 0:21 / /proc rw - proc proc rw\n30 22 253:16 / /data rw,relatime - ext4 /dev/vdb rw\n";
        Write("proc/812/mountinfo", mounted);
        Write("proc/813/mountinfo", mounted);
        // The same mount copied into a third namespace is said once.
        Process(900, "svc", 0);
        Namespace("900", "mnt:[4026532400]");
        Write("proc/900/mountinfo", mounted);

        var user = Assert.Single(Usage().Find(new VdpaDevice { Name = "b0", BlockDevice = "/dev/vdb" }).Users);

        Assert.Equal(VdpaDeviceUseKind.Mounted, user.Kind);
        Assert.Equal("/dev/vdb is mounted on /data in the mount namespace of sh (pid 812)", user.Description);
        Assert.Equal("/data", user.MountPoint);
    }

    [Fact]
    public void FindsABtrfsMountByItsSourceThoughItShowsAnAnonymousDeviceNumber()
    {
        Disk("vdd", "253:48");
        Write("proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n" +
            "50 22 0:45 / /srv/pool rw,relatime shared:30 - btrfs /dev/vdd rw,space_cache=v2,subvolid=5,subvol=/\n");

        var user = Assert.Single(Usage().Find(new VdpaDevice { Name = "b3", BlockDevice = "/dev/vdd" }).Users);

        Assert.Equal("/dev/vdd is mounted on /srv/pool", user.Description);
    }

    [Fact]
    public void AnExclusiveOpenRefusedWithEbusyIsAUserUnlessAMountOrHolderAlreadyExplainsIt()
    {
        Disk("vde", "253:64", ("vde1", "253:65"), ("vde2", "253:66"));
        Write("proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n40 22 253:65 / /boot rw - ext4 /dev/vde1 rw\n");
        // vde1 is mounted (named by mountinfo); vde2 is claimed by something no file shows; the whole disk is busy for both.
        _exclusive["/dev/vde1"] = LinuxErrno.EBUSY;
        _exclusive["/dev/vde2"] = LinuxErrno.EBUSY;
        _exclusive["/dev/vde"] = LinuxErrno.EBUSY;

        var report = Usage().Find(new VdpaDevice { Name = "b4", BlockDevice = "/dev/vde" });

        Assert.Equal(
            [
                "/dev/vde1 is mounted on /boot",
                "the kernel refuses to open /dev/vde2 exclusively (EBUSY (Device or resource busy)): it is mounted (in a mount namespace " +
                    "this user cannot read, or by a filesystem not found by its device), swap, or part of device-mapper, md or btrfs",
            ],
            report.Users.Select(u => u.Description));
        Assert.Equal(VdpaDeviceUseKind.Claimed, report.Users[1].Kind);
        Assert.True(report.IsCertain);
    }

    [Fact]
    public void AClaimedDiskNothingElseExplainsIsInUse()
    {
        Disk("vdf", "253:80");
        _exclusive["/dev/vdf"] = LinuxErrno.EBUSY;
        var report = Usage().Find(new VdpaDevice { Name = "b5", BlockDevice = "/dev/vdf" });
        Assert.Equal(VdpaDeviceUseKind.Claimed, Assert.Single(report.Users).Kind);
        Assert.True(report.InUse);
    }

    [Fact]
    public void ADiskThatCannotBeOpenedLeavesTheCheckUnsureWithTheSystemsWords()
    {
        Disk("vdg", "253:96");
        _exclusive["/dev/vdg"] = LinuxErrno.EACCES;
        var report = Usage().Find(new VdpaDevice { Name = "b6", BlockDevice = "/dev/vdg" });
        Assert.False(report.InUse);
        Assert.True(report.MayBeInUse);
        Assert.Equal("/dev/vdg could not be opened to ask the kernel whether it is claimed (EACCES (Permission denied))", report.UncertainNote);
    }

    [Fact]
    public void TheRealExclusiveOpenOfAMissingNodeSaysSo()
    {
        // The real open(2): a disk node that is not there cannot answer, so the check is not sure.
        var report = new VdpaDeviceUsage(Proc, Sys, Etc, _ => []).Find(new VdpaDevice { Name = "b7", BlockDevice = Path.Combine(_root, "dev", "vdz") });
        Assert.Contains("ENOENT (No such file or directory)", report.UncertainNote, StringComparison.Ordinal);
    }

    [Fact]
    public void AVirtioDeviceThatCannotBeToldApartLeavesABlockDeviceUnsureAndANetDeviceWithANote()
    {
        const string Why = "its virtio device cannot be told apart";
        var block = Usage().Find(new VdpaDevice { Name = "b8", Type = VirtioDeviceClass.Block, VirtioUncertainty = Why });
        Assert.True(block.MayBeInUse);
        Assert.Equal($"{Why}, so its disk could not be checked", block.UncertainNote);

        var net = Usage().Find(new VdpaDevice { Name = "n8", Type = VirtioDeviceClass.Net, VirtioUncertainty = Why });
        Assert.False(net.MayBeInUse);
        Assert.Equal([Why], net.Notes);
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

    private void Namespace(string pid, string link)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Proc, pid, "ns")).FullName;
        File.CreateSymbolicLink(Path.Combine(dir, "mnt"), link);
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

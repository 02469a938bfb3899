using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Host;

/// <summary>A sysfs step that failed: a driver not loaded, a write the kernel refused, a bind that did not take.</summary>
public sealed class VdpaSysfsException : Exception
{
    public VdpaSysfsException(string message, VdpaSysfsFailure failure, Exception? inner = null, int errno = 0, string? path = null)
        : base(message, inner)
    {
        Failure = failure;
        Errno = errno != 0 ? errno : (inner as VdpaSysfsException)?.Errno ?? 0;
        Path = path ?? (inner as VdpaSysfsException)?.Path;
    }

    public VdpaSysfsFailure Failure { get; }

    /// <summary>The kernel's errno for a write it refused (0 when the failure was no refused write).</summary>
    public int Errno { get; }

    /// <summary>The sysfs file the failed write went to, where there was one.</summary>
    public string? Path { get; }
}

public enum VdpaSysfsFailure
{
    DeviceNotFound,
    DriverNotLoaded,
    WriteFailed,
    BindNotEffective,
    PermissionDenied,

    /// <summary>The PF's driver refused to make VFs because it is not ready (EBUSY from sriov_numvfs).</summary>
    PhysicalFunctionNotReady,

    /// <summary>A VF count the PF cannot make (ERANGE or EINVAL from sriov_numvfs, or over sriov_totalvfs).</summary>
    VfCountOutOfRange,
}

/// <summary>What the netlink family does not tell: the driver a device is bound to, what it became, and binding.</summary>
/// <remarks>
/// Layout (drivers/vdpa/vdpa.c, drivers/vhost/vdpa.c, drivers/virtio/virtio_vdpa.c): /sys/bus/vdpa/devices/NAME links to the
/// device; vhost_vdpa adds a vhost-vdpa-N child (the char device /dev/vhost-vdpa-N); virtio_vdpa adds virtioN under the DMA
/// device (the vdpa device itself for the simulator and VDUSE, the PCI function for hardware), with net/IF or block/vdX below.
/// </remarks>
internal sealed class VdpaSysfs
{
    public const string VhostDriver = "vhost_vdpa";
    public const string VirtioDriver = "virtio_vdpa";
    private static readonly string[] KnownDrivers = [VhostDriver, VirtioDriver];

    private readonly string _sys;
    private readonly string _dev;
    private readonly string _devicesRoot;

    public VdpaSysfs(string sysRoot = "/sys", string devRoot = "/dev")
    {
        _sys = sysRoot;
        _dev = devRoot;
        _devicesRoot = Path.Combine(sysRoot, "devices");
    }

    public static VdpaSysfs Default { get; } = new();

    private string Bus => Path.Combine(_sys, "bus", "vdpa");

    /// <summary>Whether new devices are bound to a loaded driver automatically (/sys/bus/vdpa/drivers_autoprobe).</summary>
    public bool AutoProbe => !File.Exists(Path.Combine(Bus, "drivers_autoprobe")) || File.ReadAllText(Path.Combine(Bus, "drivers_autoprobe")).Trim() != "0";

    /// <summary>Every device on the vdpa bus, managed or not.</summary>
    public IReadOnlyList<string> GetDeviceNames()
    {
        var names = EntryNames(Path.Combine(Bus, "devices"));
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public bool Exists(string name) => CheckName(name) is null && Directory.Exists(DevicePath(name));

    /// <summary>The driver bound to the device, or null.</summary>
    public string? GetDriver(string name) => DriverOf(DevicePath(name));

    /// <summary>Fills in what sysfs knows: driver, char device or netdev/block device, parent path, NUMA node.</summary>
    public void Describe(VdpaDevice device) => Fill(device, parents: null);

    /// <summary>
    /// A listing's view of sysfs: what the devices of one parent share (its path, its NUMA node) is read once for all of
    /// them. Use one per listing, not longer: a parent may go and come back between listings.
    /// </summary>
    public VdpaSysfsListing StartListing() => new(this);

    internal void Fill(VdpaDevice device, Dictionary<string, int?>? parents)
    {
        // Everything below comes from sysfs alone: what an earlier fill found is dropped first, so a device read again (a
        // piped object, a refilled one) never keeps a driver, disk or interface it no longer has.
        device.Driver = null;
        device.VhostDevicePath = null;
        device.NetworkInterface = null;
        device.BlockDevice = null;
        device.ParentDevicePath = null;
        device.NumaNode = null;
        device.VirtioUncertainty = null;
        if (CheckName(device.Name) is not null || ResolveDevice(DevicePath(device.Name)) is not { } deviceDir)
        {
            return;
        }

        // One readlink: a missing link is an unbound device, and then nothing below it can exist.
        device.Driver = DriverOf(deviceDir);
        var parentDir = Path.GetDirectoryName(deviceDir);
        // A device straight under /sys/devices (the simulators') has no parent device; any other folder above it is its parent
        // (a PCI function, an SF, a VDUSE device's node under /sys/devices/virtual) and is reported.
        device.ParentDevicePath = parentDir is not null && parentDir != _devicesRoot ? parentDir : null;
        if (parentDir is null)
        {
            device.NumaNode = null;
        }
        else if (parents is null)
        {
            device.NumaNode = ReadNumaNode(parentDir);
        }
        else if (parents.TryGetValue(parentDir, out var node))
        {
            device.NumaNode = node;
        }
        else
        {
            device.NumaNode = parents[parentDir] = ReadNumaNode(parentDir);
        }

        // vhost_vdpa makes the vhost-vdpa-N child (and its char device) on probe and removes it on unbind; virtio_vdpa
        // makes virtioN. The directories are listed only for the driver that can have put something there.
        device.VhostDevicePath = device.Driver == VhostDriver ? FindVhostDevice(deviceDir) : null;
        if (device.Driver == VirtioDriver && FindVirtioDevice(device, deviceDir, parentDir) is { } virtio)
        {
            device.NetworkInterface = FirstEntry(Path.Combine(virtio, "net"));
            device.BlockDevice = FirstEntry(Path.Combine(virtio, "block")) is { } block ? Path.Combine(_dev, block) : null;
        }
    }

    /// <summary>
    /// Binds the device to <paramref name="driver"/> (vhost_vdpa or virtio_vdpa), or unbinds it when null: unbind from the
    /// current driver, write driver_override, bind. The override stays, so a later probe picks the same driver.
    /// </summary>
    /// <returns>False when the device already had that driver and nothing was written.</returns>
    public bool SetDriver(string name, string? driver)
    {
        driver = string.IsNullOrEmpty(driver) ? null : driver;
        if (CheckName(name) is { } reason)
        {
            throw new ArgumentException(reason, nameof(name));
        }

        if (driver is not null && !KnownDrivers.Contains(driver, StringComparer.Ordinal))
        {
            throw new ArgumentException($"'{driver}' is not a vdpa bus driver: use {VhostDriver} or {VirtioDriver}.", nameof(driver));
        }

        if (!Directory.Exists(DevicePath(name)))
        {
            throw new VdpaSysfsException($"There is no vDPA device '{name}' in {Path.Combine(Bus, "devices")}.", VdpaSysfsFailure.DeviceNotFound);
        }

        if (driver is not null && !Directory.Exists(Path.Combine(Bus, "drivers", driver)))
        {
            throw new VdpaSysfsException($"The {driver} driver is not loaded: run 'modprobe {driver}' as root.", VdpaSysfsFailure.DriverNotLoaded);
        }

        var current = GetDriver(name);
        if (current == driver)
        {
            return false;
        }

        var overridePath = Path.Combine(DevicePath(name), "driver_override");
        var formerOverride = ReadOverride(overridePath);
        try
        {
            if (current is not null)
            {
                Write(Path.Combine(Bus, "drivers", current, "unbind"), name);
            }

            // An empty line clears the override; a driver name makes the next probe (ours, or a later one) choose it.
            Write(overridePath, driver ?? "\n");
            if (driver is not null)
            {
                Write(Path.Combine(Bus, "drivers", driver, "bind"), name);
            }

            var now = GetDriver(name);
            if (now != driver)
            {
                throw new VdpaSysfsException(
                    $"The device '{name}' is bound to {now ?? "no driver"} after asking for {driver ?? "no driver"}; the kernel did not take the change.",
                    VdpaSysfsFailure.BindNotEffective);
            }
        }
        catch (VdpaSysfsException e)
        {
            // A half-done change leaves the device unbound with a new override: what used it before gets it back.
            var back = GoBack(name, current, formerOverride);
            throw new VdpaSysfsException(e.Message + " " + back, e.Failure, e);
        }

        return true;
    }

    /// <summary>Puts the driver and override a failed <see cref="SetDriver"/> found back; says what became of the device.</summary>
    private string GoBack(string name, string? formerDriver, string? formerOverride)
    {
        try
        {
            var now = GetDriver(name);
            if (now != formerDriver && now is not null)
            {
                Write(Path.Combine(Bus, "drivers", now, "unbind"), name);
            }

            Write(Path.Combine(DevicePath(name), "driver_override"), formerOverride ?? "\n");
            if (formerDriver is not null && GetDriver(name) != formerDriver)
            {
                Write(Path.Combine(Bus, "drivers", formerDriver, "bind"), name);
            }

            var after = GetDriver(name);
            return after == formerDriver
                ? $"It was put back as it was: bound to {formerDriver ?? "no driver"}."
                : $"Putting it back to {formerDriver ?? "no driver"} did not take either: it is bound to {after ?? "no driver"}.";
        }
        catch (Exception e) when (e is VdpaSysfsException or IOException or UnauthorizedAccessException)
        {
            return $"Putting it back to {formerDriver ?? "no driver"} failed too: {e.Message}";
        }
    }

    /// <summary>The override a device has (sysfs shows "(null)" for none); null when it has none or it cannot be read.</summary>
    internal static string? ReadOverride(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return text.Length == 0 || text == "(null)" ? null : text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The PCI driver of vp_vdpa parents (the module is vp_vdpa, the driver vp-vdpa).</summary>
    public const string VirtioPciParentDriver = "vp-vdpa";

    /// <summary>The driver of a parent on a bus (/sys/bus/BUS/devices/DEVICE/driver), or null for parents without a bus or driver.</summary>
    public string? GetParentDriver(VdpaParent parent) => GetParentDriver(parent.Name);

    /// <inheritdoc cref="GetParentDriver(VdpaParent)"/>
    public string? GetParentDriver(string parentName)
    {
        var (busName, deviceName) = VdpaText.SplitParentName(parentName);
        if (busName is not { Length: > 0 } bus || VdpaText.CheckDeviceName(bus) is not null || VdpaText.CheckDeviceName(deviceName) is not null)
        {
            return null;
        }

        var link = Path.Combine(_sys, "bus", bus, "devices", deviceName, "driver");
        return Directory.Exists(link) ? Path.GetFileName(ResolveDirectory(link)) : null;
    }

    /// <summary>
    /// Adds what sysfs knows of a PCI parent: its PCI driver and, for an SR-IOV virtual function, its PF (the physfn link).
    /// Other parents are left as they are.
    /// </summary>
    public VdpaParent DescribeParent(VdpaParent parent)
    {
        if (parent.BusName == "pci" && CheckName(parent.DeviceName) is null)
        {
            var dir = Path.Combine(_sys, "bus", "pci", "devices", parent.DeviceName);
            parent.PciDriver = DriverOf(dir);
            parent.PhysicalFunction = ReadLink(Path.Combine(dir, "physfn")) is { } pf ? Path.GetFileName(pf.TrimEnd('/')) : null;
        }

        return parent;
    }

    /// <summary>
    /// What makes a parent's devices: the driver of a bus parent (vp-vdpa, mlx5_core), or the name of a parent without a
    /// bus, which its driver registers under its own name (vdpasim_net, vdpasim_blk, vduse). Null when it cannot be told.
    /// </summary>
    public string? GetParentKind(string parentName) =>
        VdpaText.SplitParentName(parentName).BusName is null ? parentName : GetParentDriver(parentName);

    /// <summary>
    /// Whether the parent's driver keeps one vDPA device per parent without refusing a second: vp_vdpa accepts a second
    /// DEV_NEW, which corrupts the parent (removing a device then can crash the kernel).
    /// </summary>
    public bool AcceptsSecondDeviceWithoutRefusing(VdpaParent parent) => GetParentDriver(parent) == VirtioPciParentDriver;

    /// <summary>Why a name cannot reach a sysfs path, or null.</summary>
    public static string? CheckName(string name) => VdpaText.CheckDeviceName(name);

    private string DevicePath(string name) => Path.Combine(Bus, "devices", name);

    private string? FindVhostDevice(string deviceDir)
    {
        foreach (var child in SafeEntries(deviceDir, "vhost-vdpa-*"))
        {
            var path = Path.Combine(_dev, Path.GetFileName(child));
            if (IsCharacterDevice(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>
    /// The virtioN virtio_vdpa made for the device: below the device itself (the simulator, VDUSE), else below its DMA device,
    /// the parent (hardware). The kernel links a virtioN to no vdpa device, so one below the parent is taken only when this
    /// device is the one there that can own it; otherwise the device's disk or interface is unknown and said so.
    /// </summary>
    private string? FindVirtioDevice(VdpaDevice device, string deviceDir, string? parentDir)
    {
        if (SafeEntries(deviceDir, "virtio*").FirstOrDefault() is { } own)
        {
            return own;
        }

        var shared = parentDir is null ? [] : SafeEntries(parentDir, "virtio*").ToList();
        if (shared.Count == 0)
        {
            return null;
        }

        // Which devices of this parent could own them: bound to virtio_vdpa, with no virtioN of their own.
        var claimants = GetDeviceNames()
            .Where(n => ResolveDevice(DevicePath(n)) is { } dir && Path.GetDirectoryName(dir) == parentDir &&
                DriverOf(dir) == VirtioDriver && !SafeEntries(dir, "virtio*").Any())
            .ToList();
        var candidates = device.VirtioDeviceId == 0 ? shared : shared.Where(v => VirtioIdOf(v) is not { } id || id == device.VirtioDeviceId).ToList();
        if (claimants.Count == 1 && candidates.Count == 1)
        {
            return candidates[0];
        }

        device.VirtioUncertainty = $"its virtio device cannot be told apart: {parentDir} has {string.Join(", ", shared.Select(Path.GetFileName))} " +
            $"for the {claimants.Count} devices bound to {VirtioDriver} below it ({string.Join(", ", claimants)}), and the kernel links none of them to its vDPA device";
        return null;
    }

    /// <summary>The virtio device id in virtioN/device ("0x0002"), or null when it cannot be read.</summary>
    private static uint? VirtioIdOf(string virtioDir)
    {
        var file = Path.Combine(virtioDir, "device");
        var text = File.Exists(file) ? File.ReadAllText(file).Trim() : null;
        return text is not null && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) &&
            uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;
    }

    private static int? ReadNumaNode(string? parentDir) =>
        parentDir is not null && ReadInt(Path.Combine(parentDir, "numa_node")) is >= 0 and var node ? node : null;

    private static string? FirstEntry(string directory) =>
        SafeEntries(directory, "*").Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).FirstOrDefault();

    private static IEnumerable<string> SafeEntries(string directory, string pattern) =>
        Directory.Exists(directory) ? Directory.GetFileSystemEntries(directory, pattern).Order(StringComparer.Ordinal) : [];

    private static string ResolveDirectory(string path) =>
        new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);

    /// <summary>The device's own directory, from the bus's link to it (one readlink); null when the device is not there.</summary>
    private static string? ResolveDevice(string busPath)
    {
        if (ReadLink(busPath) is { } target)
        {
            return Path.GetFullPath(target, Path.GetDirectoryName(busPath)!);
        }

        // sysfs always links; a directory (or a link to a link) is resolved the long way.
        return Directory.Exists(busPath) ? ResolveDirectory(busPath) : null;
    }

    /// <summary>The driver's name from the device's driver link (one readlink), or null when there is none: unbound.</summary>
    internal static string? DriverOf(string deviceDir) =>
        ReadLink(Path.Combine(deviceDir, "driver")) is { } target ? Path.GetFileName(target.TrimEnd('/')) : null;

    /// <summary>
    /// The names in a directory (no "." and ".."), empty when it cannot be read. readdir(3) alone: .NET's enumeration
    /// stats every symbolic link, and each entry of /sys/bus/vdpa/devices is one (two system calls a device in a listing).
    /// </summary>
    internal static List<string> EntryNames(string directory) => EntryNames(directory, out _);

    /// <summary>As <see cref="EntryNames(string)"/>, with the errno of a directory that could not be opened (0 when it was).</summary>
    internal static List<string> EntryNames(string directory, out int error)
    {
        error = 0;
        var names = new List<string>();
        // struct dirent's name is at byte 19 where ino_t and off_t are 64-bit (glibc and musl on 64-bit Linux).
        if (IntPtr.Size != 8)
        {
            try
            {
                names.AddRange(Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>());
            }
            catch (DirectoryNotFoundException)
            {
                error = LinuxErrno.ENOENT;
            }
            catch (UnauthorizedAccessException)
            {
                error = LinuxErrno.EACCES;
            }

            return names;
        }

        var dir = NativeDirectory.opendir(directory);
        if (dir == IntPtr.Zero)
        {
            error = Marshal.GetLastPInvokeError();
            return names;
        }

        try
        {
            IntPtr entry;
            while ((entry = NativeDirectory.readdir(dir)) != IntPtr.Zero)
            {
                var name = Marshal.PtrToStringUTF8(entry + 19);
                if (name is not null and not "." and not "..")
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            _ = NativeDirectory.closedir(dir);
        }

        return names;
    }

    /// <summary>readlink(2): the link's target, or null when the path is missing or no link (no exception: an unbound device is common).</summary>
    internal static unsafe string? ReadLink(string path)
    {
        var pathBytes = Encoding.UTF8.GetByteCount(path);
        Span<byte> name = pathBytes < 1024 ? stackalloc byte[pathBytes + 1] : new byte[pathBytes + 1];
        Encoding.UTF8.GetBytes(path, name);
        name[pathBytes] = 0;
        Span<byte> target = stackalloc byte[4096];
        fixed (byte* p = name)
        fixed (byte* t = target)
        {
            var length = (long)readlink(p, t, target.Length);
            return length <= 0 || length >= target.Length ? null : Encoding.UTF8.GetString(target[..(int)length]);
        }
    }

    /// <summary>
    /// A write the kernel must take, or a <see cref="VdpaSysfsException"/> with its errno and the file: PermissionDenied
    /// for EPERM and EACCES, <paramref name="failure"/> for any other refusal.
    /// </summary>
    internal static void Write(string path, string value, VdpaSysfsFailure failure = VdpaSysfsFailure.WriteFailed)
    {
        var errno = WriteValue(path, value);
        if (errno != 0)
        {
            var denied = errno is LinuxErrno.EPERM or LinuxErrno.EACCES;
            throw Refused(path, value, errno, denied ? VdpaSysfsFailure.PermissionDenied : failure, denied ? "it needs root" : null);
        }
    }

    /// <summary>The exception for a write sysfs refused: the value, the file, the kernel's errno and, where known, why.</summary>
    internal static VdpaSysfsException Refused(string path, string value, int errno, VdpaSysfsFailure failure, string? why) =>
        new($"Writing '{value.Trim()}' to {path} failed: {errno.DescribeErrno()}{(why is null ? string.Empty : ": " + why)}.", failure, errno: errno, path: path);

    /// <summary>
    /// One write(2) of the value, as sysfs wants it (no appending, no buffering across writes); the errno, 0 when it was
    /// taken. Not FileStream: it turns the kernel's answer (EBUSY, ERANGE, ENODEV...) into an IOException without the errno.
    /// </summary>
    internal static int WriteValue(string path, string value)
    {
        var fd = NativeFile.open(path, NativeFile.O_WRONLY | NativeFile.O_CLOEXEC);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            var bytes = Encoding.ASCII.GetBytes(value);
            var written = NativeFile.write(fd, bytes, bytes.Length);
            return written < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        finally
        {
            _ = NativeFile.close(fd);
        }
    }

    /// <summary>A sysfs file holding one integer, or null when it is missing, unreadable or not a number.</summary>
    internal static int? ReadInt(string file)
    {
        try
        {
            return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static unsafe bool IsCharacterDevice(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        Tmds.Linux.stat st;
        fixed (byte* p = bytes)
        {
            return stat(p, &st) == 0 && S_ISCHR(st.st_mode);
        }
    }
}

/// <summary>
/// One listing's reads of sysfs (<see cref="VdpaSysfs.StartListing"/>): the devices of one parent share its path and
/// NUMA node, read once.
/// </summary>
internal sealed class VdpaSysfsListing
{
    private readonly VdpaSysfs _sysfs;
    private readonly Dictionary<string, int?> _parents = new(StringComparer.Ordinal);

    internal VdpaSysfsListing(VdpaSysfs sysfs) => _sysfs = sysfs;

    /// <summary>
    /// Fills in what sysfs knows, as <see cref="VdpaSysfs.Describe(VdpaDevice)"/>; a device that vanished or a file that
    /// cannot be read leaves it as netlink described it (sysfs details are extras to a listing).
    /// </summary>
    public VdpaDevice Describe(VdpaDevice device)
    {
        try
        {
            _sysfs.Fill(device, _parents);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return device;
    }
}

/// <summary>opendir(3), readdir(3), closedir(3) from the C library: Tmds.LibC has no directory calls.</summary>
internal static class NativeDirectory
{
    // The C library Tmds.LibC binds to as well (on musl too: LibCLibrary).
    private const string CLibrary = Protocol.LibCLibrary.Name;

    [DllImport(CLibrary, SetLastError = true)]
    internal static extern IntPtr opendir([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport(CLibrary, SetLastError = true)]
    internal static extern IntPtr readdir(IntPtr dir);

    [DllImport(CLibrary)]
    internal static extern int closedir(IntPtr dir);
}

/// <summary>open(2), write(2), close(2) with errno kept: sysfs answers a refused value with the errno of the write.</summary>
internal static class NativeFile
{
    public const int O_WRONLY = 1;
    public const int O_CLOEXEC = 0x80000;

    [DllImport(LibCLibrary.Name, SetLastError = true)]
    internal static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport(LibCLibrary.Name, SetLastError = true)]
    internal static extern nint write(int fd, byte[] buffer, nint count);

    [DllImport(LibCLibrary.Name)]
    internal static extern int close(int fd);
}

using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Host;

/// <summary>What a physical function had before a change: what <see cref="VdpaSriov.Restore"/> puts back.</summary>
internal sealed record VdpaSriovState(string Address, int VfCount, bool AutoProbe, IReadOnlyList<VdpaVfState> Vfs);

/// <summary>One VF's binding before a change: its driver and its driver_override.</summary>
internal sealed record VdpaVfState(string Address, string? Driver, string? Override);

/// <summary>
/// SR-IOV in sysfs (Documentation/ABI/testing/sysfs-bus-pci, drivers/pci/iov.c): a PF has sriov_totalvfs, sriov_numvfs
/// and sriov_drivers_autoprobe, a virtfnN link to each enabled VF, and each VF a physfn link back. VFs are made by writing
/// sriov_numvfs; the kernel refuses a count over the total (ERANGE) and a change from one non-zero count to another (EBUSY:
/// it must go through 0), and the PF's driver may refuse (virtio-pci says EBUSY while its device is not live). A VF is
/// bound to a driver through driver_override and drivers_probe, as the lab does for vp-vdpa.
/// </summary>
internal sealed class VdpaSriov
{
    private readonly string _sys;

    public VdpaSriov(string sysRoot = "/sys") => _sys = sysRoot;

    public static VdpaSriov Default { get; } = new();

    private string PciDevices => Path.Combine(_sys, "bus", "pci", "devices");

    private string PciDrivers => Path.Combine(_sys, "bus", "pci", "drivers");

    /// <summary>The PCI address with its domain (01:00.0 gives 0000:01:00.0; pci/0000:01:00.0 gives 0000:01:00.0), or null when it is none.</summary>
    public static string? NormalizeAddress(string text)
    {
        var t = text.Trim();
        if (t.StartsWith("pci/", StringComparison.OrdinalIgnoreCase))
        {
            t = t[4..];
        }

        return VdpaParentName.FullPciAddress(t);
    }

    /// <summary>Every PCI function that can make VFs, by address.</summary>
    public IReadOnlyList<VdpaPhysicalFunction> GetPhysicalFunctions()
    {
        var list = new List<VdpaPhysicalFunction>();
        foreach (var name in VdpaSysfs.EntryNames(PciDevices).Order(StringComparer.Ordinal))
        {
            if (TryRead(name) is { } pf)
            {
                list.Add(pf);
            }
        }

        return list;
    }

    /// <summary>The physical function at an address, or null when there is no such function or it cannot make VFs.</summary>
    public VdpaPhysicalFunction? GetPhysicalFunction(string address) => NormalizeAddress(address) is { } a ? TryRead(a) : null;

    /// <summary>The PF of a VF (its physfn link), or null when the function is no VF or is not there.</summary>
    public string? GetPhysicalFunctionOf(string address) =>
        NormalizeAddress(address) is { } a && VdpaSysfs.ReadLink(Path.Combine(PciDevices, a, "physfn")) is { } target
            ? Path.GetFileName(target.TrimEnd('/'))
            : null;

    /// <summary>The PCI driver bound to a function, or null.</summary>
    public string? GetDriver(string address) => VdpaSysfs.DriverOf(Path.Combine(PciDevices, address));

    /// <summary>
    /// The PCI driver's name as /sys/bus/pci/drivers has it: the name given, or with '_' and '-' swapped (the vp_vdpa module
    /// registers the driver vp-vdpa); null when no such driver is loaded.
    /// </summary>
    public string? FindDriver(string name)
    {
        if (VdpaSysfs.CheckName(name) is not null)
        {
            return null;
        }

        foreach (var candidate in new[] { name, name.Replace('_', '-'), name.Replace('-', '_') })
        {
            if (Directory.Exists(Path.Combine(PciDrivers, candidate)))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The PCI drivers loaded now, for completion.</summary>
    public IReadOnlyList<string> GetDriverNames() => [.. VdpaSysfs.EntryNames(PciDrivers).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Fills in each VF's vDPA side: the parent it is now (pci/ADDRESS among <paramref name="parentNames"/>) and the devices
    /// whose parent it is (<paramref name="devices"/>: device name and parent name).
    /// </summary>
    public static void AddVdpaState(IEnumerable<VdpaPhysicalFunction> pfs, IEnumerable<string> parentNames, IEnumerable<(string Name, string Parent)> devices)
    {
        var parents = parentNames.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var byParent = devices.GroupBy(d => d.Parent, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Select(d => d.Name).Order(StringComparer.Ordinal).ToArray(), StringComparer.OrdinalIgnoreCase);
        foreach (var vf in pfs.SelectMany(p => p.VirtualFunctions))
        {
            var name = "pci/" + vf.PciAddress;
            vf.ParentName = parents.Contains(name) ? name : null;
            vf.Devices = byParent.TryGetValue(name, out var names) ? names : [];
        }
    }

    private VdpaPhysicalFunction? TryRead(string address)
    {
        var dir = Path.Combine(PciDevices, address);
        if (VdpaSysfs.ReadInt(Path.Combine(dir, "sriov_totalvfs")) is not { } total || total <= 0)
        {
            return null;
        }

        var vfs = new List<VdpaVirtualFunction>();
        foreach (var link in VdpaSysfs.EntryNames(dir).Where(n => n.StartsWith("virtfn", StringComparison.Ordinal)))
        {
            if (!int.TryParse(link.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var index) ||
                VdpaSysfs.ReadLink(Path.Combine(dir, link)) is not { } target)
            {
                continue;
            }

            var vf = Path.GetFileName(target.TrimEnd('/'));
            vfs.Add(new VdpaVirtualFunction
            {
                PciAddress = vf,
                PhysicalFunction = address,
                Index = index,
                Driver = VdpaSysfs.DriverOf(Path.Combine(PciDevices, vf)),
            });
        }

        return new VdpaPhysicalFunction
        {
            PciAddress = address,
            Driver = VdpaSysfs.DriverOf(dir),
            NetworkInterface = NetworkInterfaceOf(dir),
            NumaNode = VdpaSysfs.ReadInt(Path.Combine(dir, "numa_node")) is { } node && node >= 0 ? node : null,
            TotalVfs = total,
            VfCount = VdpaSysfs.ReadInt(Path.Combine(dir, "sriov_numvfs")) ?? 0,
            AutoProbe = VdpaSysfs.ReadInt(Path.Combine(dir, "sriov_drivers_autoprobe")) != 0,
            VirtualFunctions = [.. vfs.OrderBy(v => v.Index)],
        };
    }

    /// <summary>A net driver puts the interface under net/ of the function, or (virtio) under net/ of its virtioN child.</summary>
    private static string? NetworkInterfaceOf(string dir)
    {
        var names = VdpaSysfs.EntryNames(Path.Combine(dir, "net"));
        if (names.Count == 0)
        {
            foreach (var child in VdpaSysfs.EntryNames(dir).Where(n => n.StartsWith("virtio", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                names = VdpaSysfs.EntryNames(Path.Combine(dir, child, "net"));
                if (names.Count > 0)
                {
                    break;
                }
            }
        }

        return names.Order(StringComparer.Ordinal).FirstOrDefault();
    }

    /// <summary>What the PF has now, to put back after a failed change.</summary>
    public VdpaSriovState Capture(string address)
    {
        var pf = TryRead(address) ?? throw new VdpaSysfsException($"There is no PCI physical function {address} in {PciDevices}.", VdpaSysfsFailure.DeviceNotFound);
        return new VdpaSriovState(address, pf.VfCount, pf.AutoProbe,
            [.. pf.VirtualFunctions.Select(v => new VdpaVfState(v.PciAddress, v.Driver, VdpaSysfs.ReadOverride(Path.Combine(PciDevices, v.PciAddress, "driver_override"))))]);
    }

    /// <summary>
    /// Makes <paramref name="count"/> VFs on the PF (through 0 when it has another non-zero count) and binds each to
    /// <paramref name="driver"/> (a PCI driver's name as /sys/bus/pci/drivers has it; null: VFs go to whatever probes them).
    /// With a driver, autoprobe is off while the VFs are made, so no other driver takes them first, and put back after.
    /// A failed step puts back what was (<see cref="Restore"/>) and says so in the exception.
    /// </summary>
    /// <param name="progress">Told each step before it is taken (for -Verbose).</param>
    public void Apply(string address, int count, string? driver, Action<string>? progress = null)
    {
        var before = Capture(address);
        var dir = Path.Combine(PciDevices, address);
        try
        {
            if (before.VfCount != count)
            {
                if (before.VfCount != 0)
                {
                    progress?.Invoke($"Writing 0 to {Path.Combine(dir, "sriov_numvfs")} (the kernel changes a non-zero count only through 0).");
                    WriteNumVfs(dir, 0);
                }

                if (count > 0)
                {
                    var probeOff = driver is not null && before.AutoProbe;
                    if (probeOff)
                    {
                        progress?.Invoke($"Writing 0 to {Path.Combine(dir, "sriov_drivers_autoprobe")} while the VFs are made, so that only {driver} takes them.");
                        VdpaSysfs.Write(Path.Combine(dir, "sriov_drivers_autoprobe"), "0");
                    }

                    try
                    {
                        progress?.Invoke($"Writing {count} to {Path.Combine(dir, "sriov_numvfs")}.");
                        WriteNumVfs(dir, count);
                    }
                    finally
                    {
                        if (probeOff)
                        {
                            VdpaSysfs.Write(Path.Combine(dir, "sriov_drivers_autoprobe"), "1");
                        }
                    }
                }
            }

            if (driver is not null && count > 0)
            {
                foreach (var vf in TryRead(address)?.VirtualFunctions ?? [])
                {
                    if (vf.Driver != driver)
                    {
                        progress?.Invoke($"Binding VF {vf.PciAddress} to {driver} (driver_override, drivers_probe).");
                        Bind(vf.PciAddress, vf.Driver, driver);
                    }
                }
            }
        }
        catch (VdpaSysfsException e)
        {
            throw new VdpaSysfsException(e.Message + " " + Restore(before), e.Failure, e);
        }
    }

    /// <summary>Puts a PF back as <paramref name="state"/> says: its VF count, each VF's driver and override, autoprobe. Says what became of it.</summary>
    public string Restore(VdpaSriovState state)
    {
        var dir = Path.Combine(PciDevices, state.Address);
        try
        {
            var now = TryRead(state.Address);
            if (now is null)
            {
                return $"Putting it back was not possible: {state.Address} is gone.";
            }

            if (now.VfCount != state.VfCount)
            {
                if (now.VfCount != 0)
                {
                    WriteNumVfs(dir, 0);
                }

                if (state.VfCount != 0)
                {
                    VdpaSysfs.Write(Path.Combine(dir, "sriov_drivers_autoprobe"), "0");
                    WriteNumVfs(dir, state.VfCount);
                }
            }

            foreach (var vf in state.Vfs)
            {
                var current = VdpaSysfs.DriverOf(Path.Combine(PciDevices, vf.Address));
                var overridePath = Path.Combine(PciDevices, vf.Address, "driver_override");
                if (current == vf.Driver && VdpaSysfs.ReadOverride(overridePath) == vf.Override)
                {
                    continue;
                }

                if (current is not null && current != vf.Driver)
                {
                    VdpaSysfs.Write(Path.Combine(PciDrivers, current, "unbind"), vf.Address);
                }

                VdpaSysfs.Write(overridePath, vf.Override ?? "\n");
                if (vf.Driver is not null && VdpaSysfs.DriverOf(Path.Combine(PciDevices, vf.Address)) != vf.Driver)
                {
                    VdpaSysfs.Write(Path.Combine(PciDrivers, vf.Driver, "bind"), vf.Address);
                }
            }

            VdpaSysfs.Write(Path.Combine(dir, "sriov_drivers_autoprobe"), state.AutoProbe ? "1" : "0");
            var after = TryRead(state.Address);
            var drivers = state.Vfs.Count == 0 ? string.Empty
                : $", bound to {string.Join(", ", state.Vfs.Select(v => v.Driver ?? "no driver").Distinct())}";
            return after?.VfCount == state.VfCount && after.VirtualFunctions.Select(v => v.Driver).SequenceEqual(state.Vfs.Select(v => v.Driver))
                ? $"It was put back as it was: {state.VfCount} VFs{drivers}."
                : $"Putting it back to {state.VfCount} VFs{drivers} did not take: it has {after?.VfCount} VFs now.";
        }
        catch (VdpaSysfsException e)
        {
            return $"Putting it back to {state.VfCount} VFs failed too: {e.Message}";
        }
    }

    /// <summary>Binds a VF to <paramref name="driver"/>: unbinds it, sets driver_override, asks the PCI core to probe it, checks.</summary>
    private void Bind(string vf, string? current, string driver)
    {
        if (current is not null)
        {
            VdpaSysfs.Write(Path.Combine(PciDrivers, current, "unbind"), vf);
        }

        VdpaSysfs.Write(Path.Combine(PciDevices, vf, "driver_override"), driver);
        VdpaSysfs.Write(Path.Combine(_sys, "bus", "pci", "drivers_probe"), vf, VdpaSysfsFailure.BindNotEffective);
        var now = VdpaSysfs.DriverOf(Path.Combine(PciDevices, vf));
        if (now != driver)
        {
            throw new VdpaSysfsException($"VF {vf} is bound to {now ?? "no driver"} after asking for {driver}; the kernel did not take the change (see dmesg).",
                VdpaSysfsFailure.BindNotEffective);
        }
    }

    private static void WriteNumVfs(string dir, int count)
    {
        var path = Path.Combine(dir, "sriov_numvfs");
        var errno = VdpaSysfs.WriteValue(path, count.ToString(CultureInfo.InvariantCulture));
        if (errno == 0)
        {
            return;
        }

        var (failure, why) = errno switch
        {
            LinuxErrno.EBUSY when count != 0 =>
                (VdpaSysfsFailure.PhysicalFunctionNotReady, "the PF's driver is not ready to make VFs (a virtio-pci PF needs its virtio driver, such as virtio_net, bound first)"),
            LinuxErrno.ERANGE or LinuxErrno.EINVAL =>
                (VdpaSysfsFailure.VfCountOutOfRange, $"the PF cannot make {count} VFs (its total is in {Path.Combine(dir, "sriov_totalvfs")})"),
            LinuxErrno.EPERM or LinuxErrno.EACCES => (VdpaSysfsFailure.PermissionDenied, "changing VFs needs root (CAP_SYS_ADMIN), and no VF may be assigned to a VM"),
            _ => (VdpaSysfsFailure.WriteFailed, null),
        };
        throw VdpaSysfs.Refused(path, count.ToString(CultureInfo.InvariantCulture), errno, failure, why);
    }
}

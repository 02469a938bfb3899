using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Host;

/// <summary>Which uevents concern vDPA devices and parents, and what they mean.</summary>
/// <remarks>
/// Recorded on 6.12 and 6.1 (tests/VdpaPS.Netlink.Tests/Fixtures/uevents): a device on the vdpa bus sends add, bind, unbind and
/// remove; binding virtio_vdpa adds a virtio device with a net interface or a disk below it (their own uevents come before the
/// vdpa bind); vhost_vdpa's /dev/vhost-vdpa-N has no class and sends none, so the vdpa bind is its only sign. A management
/// device sends none either (no bus, no class): a parent shows up with its module's add (sent after the module's init
/// registered it) or with a driver binding its bus device (vp_vdpa on a PCI function).
/// </remarks>
internal static class VdpaUevents
{
    public const string BusSubsystem = "vdpa";

    private static readonly HashSet<string> DeviceSubsystems = new(StringComparer.Ordinal) { BusSubsystem, "virtio", "net", "block" };

    /// <summary>The action of an event of a device on the vdpa bus; null for other events and other actions.</summary>
    public static VdpaDeviceAction? ActionOf(Uevent uevent)
    {
        if (uevent.Subsystem != BusSubsystem)
        {
            return null;
        }

        return uevent.Action switch
        {
            "add" => VdpaDeviceAction.Added,
            "remove" => VdpaDeviceAction.Removed,
            "bind" => VdpaDeviceAction.Bound,
            "unbind" => VdpaDeviceAction.Unbound,
            _ => null,
        };
    }

    /// <summary>Whether the event may change whether a device exists, is bound, or has what its driver makes.</summary>
    public static bool MayAffectDevices(Uevent uevent) => uevent.Subsystem is { } subsystem && DeviceSubsystems.Contains(subsystem);

    /// <summary>Whether a parent may have appeared with the event: something was added or a driver bound.</summary>
    public static bool MayAddParent(Uevent uevent) => uevent.Action is "add" or "bind";
}

/// <summary>Turns uevents into device events, remembering each device's driver so an unbind can say which driver it left.</summary>
internal sealed class VdpaDeviceEventTracker
{
    private readonly Dictionary<string, string?> _drivers = new(StringComparer.Ordinal);

    /// <param name="currentDrivers">The devices' drivers when watching starts (from sysfs), so the first unbind names its driver.</param>
    public VdpaDeviceEventTracker(IEnumerable<KeyValuePair<string, string?>>? currentDrivers = null)
    {
        foreach (var (name, driver) in currentDrivers ?? [])
        {
            _drivers[name] = driver;
        }
    }

    /// <summary>The device event of a uevent, or null when the uevent is not about a device on the vdpa bus.</summary>
    public VdpaDeviceEvent? Translate(Uevent uevent, DateTime time)
    {
        if (VdpaUevents.ActionOf(uevent) is not { } action)
        {
            return null;
        }

        var name = uevent.Name;
        string? driver = null;
        switch (action)
        {
            case VdpaDeviceAction.Bound:
                driver = uevent.Driver;
                _drivers[name] = driver;
                break;
            case VdpaDeviceAction.Unbound:
                // The kernel sends unbind after the driver left, without DRIVER: the driver is the one seen bound.
                driver = uevent.Driver ?? _drivers.GetValueOrDefault(name);
                _drivers[name] = null;
                break;
            case VdpaDeviceAction.Added:
                _drivers[name] = null;
                break;
            case VdpaDeviceAction.Removed:
                _drivers.Remove(name);
                break;
        }

        return new VdpaDeviceEvent
        {
            Time = time,
            Action = action,
            Name = name,
            Driver = driver,
            DevicePath = uevent.DevicePath,
            SequenceNumber = uevent.SequenceNumber,
        };
    }
}

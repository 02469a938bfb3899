namespace VdpaPS;

/// <summary>What happened to a vDPA device on the vdpa bus.</summary>
public enum VdpaDeviceAction
{
    Added,
    Removed,
    Bound,
    Unbound,
}

/// <summary>One change of a vDPA device, from the kernel's uevent for it (Watch-VdpaDevice).</summary>
public sealed class VdpaDeviceEvent
{
    /// <summary>When the event was received (local time).</summary>
    public DateTime Time { get; init; }

    public VdpaDeviceAction Action { get; init; }

    public string Name { get; init; } = string.Empty;

    /// <summary>The driver bound (Bound) or the one the device left (Unbound, where it was known); null otherwise.</summary>
    public string? Driver { get; init; }

    /// <summary>The device's path under /sys (/devices/vdpa0, or below its PCI function).</summary>
    public string DevicePath { get; init; } = string.Empty;

    /// <summary>The kernel's uevent sequence number.</summary>
    public ulong? SequenceNumber { get; init; }

    public override string ToString() => $"{Action} {Name}";
}

namespace VdpaPS;

/// <summary>What Wait-VdpaDevice waits for.</summary>
public enum VdpaDeviceWaitState
{
    /// <summary>The device exists.</summary>
    Present,

    /// <summary>A driver is bound and what it makes is there: /dev/vhost-vdpa-N, the network interface or the disk.</summary>
    Bound,

    /// <summary>The device is gone.</summary>
    Absent,
}

namespace VdpaPS;

/// <summary>A management device: the parent (a PCI PF/VF, an SF, vdpasim_net, vduse) that vDPA devices are created on.</summary>
public sealed class VdpaParent
{
    /// <summary>The name as iproute2 writes it: "bus/device" when the parent has a bus, else the device name alone.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The name again, under the name a device gives its parent: a parent piped to -Parent (-ParentName) binds by it.</summary>
    /// <remarks>
    /// Why a second name: a piped parent must bind by property name to -Parent of New-VdpaDevice and Get-VdpaDevice, and
    /// the only other property that holds it, Name, would bind to their -Name instead (New-VdpaDevice -Name is the new
    /// device's). Binding by value would take any piped object's ToString as a parent name. Deserialized parents
    /// (remoting) keep the property, which a types-file alias would not give them without the module.
    /// </remarks>
    public string ParentName => Name;

    public string? BusName { get; init; }

    public string DeviceName { get; init; } = string.Empty;

    /// <summary>Device classes this parent can create (from the class bitmap, bit = virtio device id).</summary>
    public VirtioDeviceClass[] SupportedClasses { get; init; } = [];

    public ulong SupportedClassMask { get; init; }

    /// <summary>The most virtqueues a device on this parent may have; absent on kernels before 5.18 and 0 where unlimited (vduse).</summary>
    public uint? MaxQueues { get; init; }

    /// <summary>Feature names this parent can provision; empty where the kernel does not say.</summary>
    public string[] SupportedFeatures { get; init; } = [];

    public ulong? SupportedFeatureMask { get; init; }

    /// <summary>The driver of a bus parent's device (vp-vdpa, mlx5_core), from sysfs; null for a parent without a bus or driver.</summary>
    public string? PciDriver { get; set; }

    /// <summary>For a parent that is an SR-IOV virtual function: its physical function's address (the physfn link), else null.</summary>
    public string? PhysicalFunction { get; set; }

    // What a twin of a device needs to know of its destination (Test-VdpaMigration, New-VdpaDevice of a piped device): read
    // where the parent is, so that a parent deserialized on another host still carries it. Null where it was not read.

    /// <summary>The vDPA devices on this parent.</summary>
    public string[]? Devices { get; set; }

    /// <summary>Every vDPA device on this parent's host: a twin's name must be free host-wide.</summary>
    public string[]? HostDevices { get; set; }

    /// <summary>What the parent's driver sets at creation (its config attribute mask, as this module knows it per driver): MacAddress, Mtu, MaxQueuePairs, Feature; null for a driver it does not know.</summary>
    public string[]? CreationAttributes { get; set; }

    /// <summary>Whether this host's kernel creates a device with a chosen feature set (DEV_FEATURES, Linux 6.1).</summary>
    public bool? FeatureProvisioning { get; set; }

    /// <summary>The MAC address a device on this parent has of the parent itself, where the driver cannot set one (vp_vdpa: the function's); read from a device on it, null when none is there.</summary>
    public string? OwnMacAddress { get; set; }

    /// <summary>The MTU a device on this parent has of the parent itself, where the driver cannot set one; read from a device on it.</summary>
    public ushort? OwnMtu { get; set; }

    /// <summary>The queue pairs a multi-queue device on this parent has of the parent itself, where the driver cannot set them; read from a device on it.</summary>
    public ushort? OwnMaxQueuePairs { get; set; }

    public override string ToString() => Name;
}

/// <summary>A vDPA device as the kernel's DEV_GET describes it, with what sysfs adds.</summary>
public sealed class VdpaDevice
{
    public string Name { get; init; } = string.Empty;

    /// <summary>The parent management device, named as <see cref="VdpaParent.Name"/>.</summary>
    public string Parent { get; init; } = string.Empty;

    public string? ParentBusName { get; init; }

    public string ParentDeviceName { get; init; } = string.Empty;

    /// <summary>net or block (from the virtio device id); Unknown for other ids.</summary>
    public VirtioDeviceClass Type { get; init; }

    /// <summary>The kind of device as virtio numbers it (1 net, 2 block): a class number, not this device's identifier.</summary>
    public uint VirtioDeviceId { get; init; }

    public uint VendorId { get; init; }

    /// <summary>Number of virtqueues (VDPA_ATTR_DEV_MAX_VQS).</summary>
    public uint MaxQueues { get; init; }

    public ushort MaxQueueSize { get; init; }

    /// <summary>Absent on kernels before 5.16.</summary>
    public ushort? MinQueueSize { get; init; }

    /// <summary>The vdpa bus driver the device is bound to (vhost_vdpa, virtio_vdpa), or null when unbound.</summary>
    public string? Driver { get; set; }

    /// <summary>/dev/vhost-vdpa-N when bound to vhost_vdpa.</summary>
    public string? VhostDevicePath { get; set; }

    /// <summary>The network interface a net device became under virtio_vdpa.</summary>
    public string? NetworkInterface { get; set; }

    /// <summary>The block device (/dev/vdX) a block device became under virtio_vdpa.</summary>
    public string? BlockDevice { get; set; }

    /// <summary>The sysfs path of the parent device (the PCI function for hardware).</summary>
    public string? ParentDevicePath { get; set; }

    public int? NumaNode { get; set; }

    /// <summary>
    /// Set when the device is bound to virtio_vdpa but its virtio device (and so its disk or interface) could not be told
    /// apart from its siblings' below a shared DMA device: why, for the usage check to say it could not be sure.
    /// </summary>
    internal string? VirtioUncertainty { get; set; }

    /// <summary>False for devices present in sysfs that the netlink dumps do not show (not created through a management device).</summary>
    public bool IsManaged { get; set; } = true;

    public override string ToString() => Name;
}

/// <summary>A device's configuration space and features, decoded (DEV_CONFIG_GET).</summary>
public abstract class VdpaDeviceConfig
{
    public string Name { get; init; } = string.Empty;

    public VirtioDeviceClass Type { get; init; }

    /// <summary>The kind of device as virtio numbers it (1 net, 2 block).</summary>
    public uint VirtioDeviceId { get; init; }

    /// <summary>Features the device offers (provisioned at creation); kernels before 6.1 do not report them.</summary>
    public string[] DeviceFeatures { get; init; } = [];

    public ulong? DeviceFeatureMask { get; init; }

    /// <summary>Features the driver and device agreed on; empty until a driver has negotiated (FEATURES_OK).</summary>
    public string[] NegotiatedFeatures { get; init; } = [];

    public ulong? NegotiatedFeatureMask { get; init; }

    public override string ToString() => Name;
}

public sealed class VdpaNetDeviceConfig : VdpaDeviceConfig
{
    public string? MacAddress { get; init; }

    /// <summary>The virtio-net status word: bit 0 link up, bit 1 announce.</summary>
    public ushort? Status { get; init; }

    public bool? LinkUp => Status is { } s ? (s & 1) != 0 : null;

    public bool? LinkAnnounce => Status is { } s ? (s & 2) != 0 : null;

    public ushort? Mtu { get; init; }

    /// <summary>The device's maximum queue pairs (config space), not the number in use: 1 where the kernel shows none (without MQ or RSS).</summary>
    public ushort? MaxQueuePairs { get; init; }

    /// <summary>Whether the kernel showed MAX_VQP: a configuration file leaves out what the kernel did not show (a parent such as vdpasim_net refuses it).</summary>
    internal bool ShowsMaxQueuePairs { get; init; }
}

public sealed class VdpaBlockDeviceConfig : VdpaDeviceConfig
{
    /// <summary>Capacity in 512-byte sectors.</summary>
    public ulong? Capacity { get; init; }

    public ulong? CapacityBytes => Capacity * 512;

    public uint? SizeMax { get; init; }

    public uint? SegmentMax { get; init; }

    public uint? BlockSize { get; init; }

    public ushort? QueueCount { get; init; }

    public byte? PhysicalBlockExponent { get; init; }

    public byte? AlignmentOffset { get; init; }

    public ushort? MinIoSize { get; init; }

    public uint? OptimalIoSize { get; init; }

    public uint? MaxDiscardSectors { get; init; }

    public uint? MaxDiscardSegments { get; init; }

    public uint? DiscardSectorAlignment { get; init; }

    public uint? MaxWriteZeroesSectors { get; init; }

    public uint? MaxWriteZeroesSegments { get; init; }

    public bool? ReadOnly { get; init; }

    public bool? Flush { get; init; }
}

public enum VdpaQueueType
{
    Unknown = 0,
    Rx,
    Tx,
    Control,
}

/// <summary>One counter of a queue's vendor statistics; names are the driver's and may contain spaces.</summary>
public readonly record struct VdpaCounter(string Name, ulong Value);

/// <summary>Vendor statistics of one virtqueue (DEV_VSTATS_GET).</summary>
public sealed class VdpaQueueStatistics
{
    public string Name { get; init; } = string.Empty;

    public uint QueueIndex { get; init; }

    public VdpaQueueType QueueType { get; init; }

    public VirtioDeviceClass Type { get; init; }

    /// <summary>Queue pairs the statistics were computed for: the kernel's MAX_VQP, or 1 when it omits it (no MQ).</summary>
    public ushort QueuePairs { get; init; }

    public string[] NegotiatedFeatures { get; init; } = [];

    public ulong? NegotiatedFeatureMask { get; init; }

    /// <summary>The counters in the order the driver reported them.</summary>
    public VdpaCounter[] Counters { get; init; } = [];

    /// <summary>A counter's value by name (case-insensitive), or null.</summary>
    public ulong? this[string counter]
    {
        get
        {
            foreach (var c in Counters)
            {
                if (string.Equals(c.Name, counter, StringComparison.OrdinalIgnoreCase))
                {
                    return c.Value;
                }
            }

            return null;
        }
    }

    public override string ToString() => $"{Name} queue {QueueIndex}";
}

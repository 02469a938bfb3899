namespace VdpaPS;

/// <summary>A PCI physical function that can make SR-IOV virtual functions (it has sriov_totalvfs in sysfs), and its VFs.</summary>
public sealed class VdpaPhysicalFunction
{
    /// <summary>The PCI address, domain included: 0000:01:00.0.</summary>
    /// <remarks>Not "Address": PowerShell's member access on an array of these would find the array's own Address method.</remarks>
    public string PciAddress { get; init; } = string.Empty;

    /// <summary>The PCI driver bound to the PF (virtio-pci, mlx5_core), or null when none is.</summary>
    public string? Driver { get; init; }

    /// <summary>The PF's network interface, or null when it has none (no net driver bound).</summary>
    public string? NetworkInterface { get; init; }

    /// <summary>The NUMA node of the function; null where the platform does not say (numa_node -1).</summary>
    public int? NumaNode { get; init; }

    /// <summary>How many VFs the PF can make (sriov_totalvfs).</summary>
    public int TotalVfs { get; init; }

    /// <summary>How many VFs are enabled now (sriov_numvfs).</summary>
    public int VfCount { get; init; }

    /// <summary>Whether new VFs are bound to a matching driver at once (sriov_drivers_autoprobe).</summary>
    public bool AutoProbe { get; init; }

    /// <summary>The enabled VFs, in the PF's order (virtfn0, virtfn1 ...).</summary>
    public VdpaVirtualFunction[] VirtualFunctions { get; init; } = [];

    /// <summary>How many vDPA devices its VFs hold.</summary>
    public int DeviceCount => VirtualFunctions.Sum(v => v.Devices.Length);

    public override string ToString() => PciAddress;
}

/// <summary>One SR-IOV virtual function of a <see cref="VdpaPhysicalFunction"/>.</summary>
public sealed class VdpaVirtualFunction
{
    /// <summary>The VF's PCI address: 0000:01:00.1 (PciAddress, as a PF's).</summary>
    public string PciAddress { get; init; } = string.Empty;

    /// <summary>The PF's address (the VF's physfn link).</summary>
    public string PhysicalFunction { get; init; } = string.Empty;

    /// <summary>The VF's index on its PF (virtfnN).</summary>
    public int Index { get; init; }

    /// <summary>The PCI driver bound to the VF (vp-vdpa, mlx5_core), or null when none is.</summary>
    public string? Driver { get; init; }

    /// <summary>The vDPA parent (management device) the VF is now, such as pci/0000:01:00.1; null when it is none.</summary>
    public string? ParentName { get; set; }

    /// <summary>Whether the VF is a vDPA parent now.</summary>
    public bool IsParent => ParentName is not null;

    /// <summary>The names of the vDPA devices on this VF.</summary>
    public string[] Devices { get; set; } = [];

    public override string ToString() => PciAddress;
}

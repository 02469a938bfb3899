using System.Text.Json.Serialization;

namespace VdpaPS;

/// <summary>One device of a configuration file: what Export-VdpaConfiguration writes and Sync-VdpaConfiguration converges to.</summary>
/// <remarks>An attribute left out (null) is not managed: the file says nothing about it and no difference is reported for it.</remarks>
public sealed record VdpaDeviceDefinition
{
    [JsonPropertyName("name")]
    public string Name { get; init; } = string.Empty;

    /// <summary>The parent as Get-VdpaParent names it (a bus parent's address alone is accepted).</summary>
    [JsonPropertyName("parent")]
    public string Parent { get; init; } = string.Empty;

    [JsonPropertyName("mac")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MacAddress { get; init; }

    [JsonPropertyName("mtu")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Mtu { get; init; }

    [JsonPropertyName("maxQueuePairs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxQueuePairs { get; init; }

    /// <summary>Device features as virtio names (MAC, MTU, VERSION_1...), bit_N for a bit without a name.</summary>
    [JsonPropertyName("features")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? Features { get; init; }

    /// <summary>vhost_vdpa, virtio_vdpa, or none (unbound).</summary>
    [JsonPropertyName("driver")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Driver { get; init; }

    public override string ToString() => Name;
}

/// <summary>One SR-IOV physical function of a configuration file: how many VFs it has and the driver they are bound to.</summary>
/// <remarks>Sync-VdpaConfiguration converges these before the devices, so a device may name a VF parent its PF section makes.</remarks>
public sealed record VdpaPhysicalFunctionDefinition
{
    /// <summary>The PF's PCI address, 0000:01:00.0.</summary>
    [JsonPropertyName("address")]
    public string PciAddress { get; init; } = string.Empty;

    [JsonPropertyName("vfCount")]
    public int VfCount { get; init; }

    /// <summary>The PCI driver of every VF (vp-vdpa, mlx5_core ...); left out, the VFs' driver is not managed.</summary>
    [JsonPropertyName("vfDriver")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VfDriver { get; init; }

    public override string ToString() => PciAddress;
}

/// <summary>What one difference between a configuration file and the host asks Sync-VdpaConfiguration to do.</summary>
public enum VdpaConfigurationChange
{
    /// <summary>The file names a device the host does not have: it is created (with its driver).</summary>
    Create,

    /// <summary>The host has a device the file does not name: removed only by Sync-VdpaConfiguration -Prune.</summary>
    NotInFile,

    /// <summary>The MAC address differs: set on the live device (DEV_ATTR_SET).</summary>
    MacAddress,

    /// <summary>The device is bound to another driver (or none): rebound.</summary>
    Driver,

    /// <summary>An attribute the kernel cannot change on a live device differs: the device is recreated only with -Force.</summary>
    Recreate,

    /// <summary>A physical function's VF count or VF driver differs: set as Set-VdpaPhysicalFunction does, before the devices.</summary>
    PhysicalFunction,
}

/// <summary>One difference between a configuration file and the host (Compare-VdpaConfiguration's output).</summary>
public sealed class VdpaConfigurationDifference
{
    /// <summary>The device's name (a PF's address for a PhysicalFunction difference): Name, as every other output calls it, so a difference binds by property name to -Name of Get-VdpaDevice or Remove-VdpaDevice.</summary>
    public string Name { get; init; } = string.Empty;

    public VdpaConfigurationChange Change { get; init; }

    /// <summary>The attribute that differs, in the file's words (mac, driver, parent, mtu, maxQueuePairs, features; vfCount, vfDriver, address for a PF); null for Create and NotInFile.</summary>
    public string? Attribute { get; init; }

    public string? Desired { get; init; }

    public string? Actual { get; init; }

    /// <summary>The file's device (null for NotInFile).</summary>
    public VdpaDeviceDefinition? Definition { get; init; }

    /// <summary>The host's device as read (null for Create).</summary>
    public VdpaDeviceDefinition? Current { get; init; }

    /// <summary>The file's physical function (for PhysicalFunction differences; Name is then its address).</summary>
    public VdpaPhysicalFunctionDefinition? PhysicalFunction { get; init; }

    public override string ToString() => Attribute is null ? $"{Name}: {Change}" : $"{Name}: {Change} {Attribute} {Actual} -> {Desired}";
}

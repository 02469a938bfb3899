namespace VdpaPS.Netlink.Vdpa;

/// <summary>What to create: name, parent, and the optional provisioning attributes (described in <see cref="VdpaProvisioning"/>).</summary>
internal sealed record VdpaDeviceSpec
{
    public required string Name { get; init; }

    public required string Parent { get; init; }

    public byte[]? MacAddress { get; init; }

    public ushort? Mtu { get; init; }

    public ushort? MaxQueuePairs { get; init; }

    public ulong? Features { get; init; }

    /// <summary>The vdpa attributes this spec sends beyond the names, in the order DEV_NEW writes them.</summary>
    public IEnumerable<ushort> ProvisioningAttributes => VdpaProvisioning.Given(this).Select(a => a.Id);
}

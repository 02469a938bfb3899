using System.Text.Json.Serialization;

namespace VdpaPS.Netlink.Configuration;

/// <summary>A configuration file's content: the devices a host should have, and the SR-IOV physical functions their VF parents come from.</summary>
internal sealed class VdpaConfiguration
{
    /// <summary>Where the schema is published in the repository; written into exported files for editors.</summary>
    public const string SchemaReference = "https://github.com/vdpaps/VdpaPS/blob/main/docs/vdpa-configuration.schema.json";

    [JsonPropertyName("$schema")]
    public string? Schema { get; init; } = SchemaReference;

    /// <summary>SR-IOV physical functions, converged before the devices; null when the file has none (not managed).</summary>
    [JsonPropertyName("physicalFunctions")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<VdpaPhysicalFunctionDefinition>? PhysicalFunctions { get; init; }

    [JsonPropertyName("devices")]
    public IReadOnlyList<VdpaDeviceDefinition> Devices { get; init; } = [];
}

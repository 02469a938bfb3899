using System.Text.Json.Serialization;

namespace VdpaPS.Netlink.Configuration;

/// <summary>A configuration file's content: the devices a host should have.</summary>
internal sealed class VdpaConfiguration
{
    /// <summary>Where the schema is published in the repository; written into exported files for editors.</summary>
    public const string SchemaReference = "https://github.com/vdpaps/VdpaPS/blob/main/docs/vdpa-configuration.schema.json";

    [JsonPropertyName("$schema")]
    public string? Schema { get; init; } = SchemaReference;

    [JsonPropertyName("devices")]
    public IReadOnlyList<VdpaDeviceDefinition> Devices { get; init; } = [];
}

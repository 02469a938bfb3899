using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Configuration;

/// <summary>What is wrong with a configuration file; each kind has its own error id in the module.</summary>
public enum VdpaConfigurationProblemKind
{
    InvalidJson,
    SchemaViolation,
    UnknownProperty,
    UnknownDriver,
    UnknownFeature,
    InvalidMacAddress,
    DuplicateDeviceName,
    DuplicateProperty,
}

/// <summary>One problem of a configuration file, located by its property path ($.devices[2].mac) and line.</summary>
public sealed record VdpaConfigurationProblem(VdpaConfigurationProblemKind Kind, string File, string Path, int? Line, string Reason)
{
    public string Message => $"{File}: {Path}{(Line is { } line ? $" (line {line.ToString(CultureInfo.InvariantCulture)})" : string.Empty)}: {Reason}";

    public override string ToString() => Message;
}

/// <summary>A configuration file that cannot be used: every problem found, before any device was touched.</summary>
public sealed class VdpaConfigurationException(string file, IReadOnlyList<VdpaConfigurationProblem> problems)
    : Exception($"The configuration file {file} has {problems.Count} problem(s); nothing was changed. {string.Join(" ", problems.Select(p => p.Message))}")
{
    public string File { get; } = file;

    public IReadOnlyList<VdpaConfigurationProblem> Problems { get; } = problems;
}

/// <summary>
/// Reads and validates a configuration file against the rules docs/vdpa-configuration.schema.json publishes (the
/// tests check both agree), and beyond them what a schema cannot say: duplicate names, MAC addresses that are
/// not unicast. Every problem is collected, so one run names them all.
/// </summary>
internal static partial class VdpaConfigurationReader
{
    public const string DriverNone = "none";

    /// <summary>The driver values a file may name.</summary>
    public static IReadOnlyList<string> Drivers { get; } = [VdpaSysfs.VhostDriver, VdpaSysfs.VirtioDriver, DriverNone];

    /// <summary>The feature names a file may use: every short name of the net and block classes (with the transport's).</summary>
    public static IReadOnlyList<string> FeatureNames { get; } =
        [.. VirtioFeatures.GetKnownNames(VirtioDeviceClass.Net).Union(VirtioFeatures.GetKnownNames(VirtioDeviceClass.Block), StringComparer.Ordinal)];

    private static readonly HashSet<string> FeatureNameSet = new(FeatureNames, StringComparer.Ordinal);

    private static readonly string[] RootProperties = ["$schema", "physicalFunctions", "devices"];
    private static readonly string[] PhysicalFunctionProperties = ["address", "vfCount", "vfDriver"];
    private static readonly string[] DeviceProperties = ["name", "parent", "mac", "mtu", "maxQueuePairs", "features", "driver"];

    /// <param name="check">Whether the file must be the caller's or root's alone (for a caller that can change devices); see <see cref="VdpaConfigurationFileCheck"/>.</param>
    /// <exception cref="VdpaConfigurationException">The file is not valid; nothing in it was used.</exception>
    /// <exception cref="VdpaConfigurationNotSecureException">Another user could have written the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static VdpaConfiguration ReadFile(string path, bool check) => Parse(VdpaConfigurationFileCheck.Read(path, check), path);

    /// <exception cref="VdpaConfigurationException">The text is not a valid configuration.</exception>
    public static VdpaConfiguration Parse(string json, string file) => Parse(Encoding.UTF8.GetBytes(json), file);

    public static VdpaConfiguration Parse(byte[] utf8, string file)
    {
        var problems = Validate(utf8, file, out var configuration);
        return problems.Count > 0 ? throw new VdpaConfigurationException(file, problems) : configuration!;
    }

    /// <summary>Every problem of the file (empty when it is valid, and then <paramref name="configuration"/> is set).</summary>
    public static IReadOnlyList<VdpaConfigurationProblem> Validate(byte[] utf8, string file, out VdpaConfiguration? configuration)
    {
        configuration = null;
        var problems = new List<VdpaConfigurationProblem>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            var line = e.LineNumber is { } l ? (int)l + 1 : (int?)null;
            var reason = e.Message.Split(" LineNumber:")[0].Split(" Path:")[0].TrimEnd('.', ' ');
            problems.Add(new(VdpaConfigurationProblemKind.InvalidJson, file, "$", line, $"The file is not valid JSON: {reason}."));
            return problems;
        }

        using (document)
        {
            var lines = LineMap.Build(utf8);
            void Add(VdpaConfigurationProblemKind kind, string path, string reason) => problems.Add(new(kind, file, path, lines.LineOf(path), reason));

            // JsonDocument keeps the last of two equal keys; a file saying two things of one property is refused instead.
            foreach (var (path, line, first) in lines.Duplicates)
            {
                problems.Add(new(VdpaConfigurationProblemKind.DuplicateProperty, file, path, line,
                    $"The property is given twice in one object (first on line {first.ToString(CultureInfo.InvariantCulture)}); each property is given once."));
            }

            if (problems.Count > 0)
            {
                return problems;
            }

            var devices = new List<VdpaDeviceDefinition>();
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Add(VdpaConfigurationProblemKind.SchemaViolation, "$", $"The file must hold a JSON object with a \"devices\" array, not {Describe(root)}.");
                return problems;
            }

            CheckProperties(root, "$", RootProperties, Add);
            if (root.TryGetProperty("$schema", out var schema) && schema.ValueKind != JsonValueKind.String)
            {
                Add(VdpaConfigurationProblemKind.SchemaViolation, "$.$schema", $"\"$schema\" must be a string, not {Describe(schema)}.");
            }

            if (!root.TryGetProperty("devices", out var list))
            {
                Add(VdpaConfigurationProblemKind.SchemaViolation, "$", "The required property \"devices\" is missing.");
            }
            else if (list.ValueKind != JsonValueKind.Array)
            {
                Add(VdpaConfigurationProblemKind.SchemaViolation, "$.devices", $"\"devices\" must be an array, not {Describe(list)}.");
            }
            else
            {
                var firstIndexOfName = new Dictionary<string, int>(StringComparer.Ordinal);
                var index = 0;
                foreach (var item in list.EnumerateArray())
                {
                    var path = $"$.devices[{index.ToString(CultureInfo.InvariantCulture)}]";
                    if (ReadDevice(item, path, Add) is { } device)
                    {
                        if (firstIndexOfName.TryGetValue(device.Name, out var first))
                        {
                            Add(VdpaConfigurationProblemKind.DuplicateDeviceName, $"{path}.name",
                                $"The device name '{device.Name}' is already used by $.devices[{first.ToString(CultureInfo.InvariantCulture)}]; each device is named once.");
                        }
                        else
                        {
                            firstIndexOfName[device.Name] = index;
                        }

                        devices.Add(device);
                    }

                    index++;
                }
            }

            List<VdpaPhysicalFunctionDefinition>? pfs = null;
            if (root.TryGetProperty("physicalFunctions", out var pfList))
            {
                pfs = ReadPhysicalFunctions(pfList, Add);
            }

            if (problems.Count == 0)
            {
                configuration = new VdpaConfiguration
                {
                    Schema = root.TryGetProperty("$schema", out var s) ? s.GetString() : null,
                    PhysicalFunctions = pfs,
                    Devices = devices,
                };
            }
        }

        return problems;
    }

    private static List<VdpaPhysicalFunctionDefinition>? ReadPhysicalFunctions(JsonElement list, Action<VdpaConfigurationProblemKind, string, string> add)
    {
        const string At = "$.physicalFunctions";
        if (list.ValueKind != JsonValueKind.Array)
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, At, $"\"physicalFunctions\" must be an array, not {Describe(list)}.");
            return null;
        }

        var pfs = new List<VdpaPhysicalFunctionDefinition>();
        var firstIndexOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var path = $"{At}[{index.ToString(CultureInfo.InvariantCulture)}]";
            index++;
            if (item.ValueKind != JsonValueKind.Object)
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, path, $"A physical function must be a JSON object, not {Describe(item)}.");
                continue;
            }

            var ok = CheckProperties(item, path, PhysicalFunctionProperties, add);
            string? address = null;
            if (!item.TryGetProperty("address", out var addressElement))
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, path, "The required property \"address\" is missing.");
                ok = false;
            }
            else if (ReadString(addressElement, $"{path}.address", add) is { } a)
            {
                address = VdpaSriov.NormalizeAddress(a);
                if (address is null || a != address)
                {
                    add(VdpaConfigurationProblemKind.SchemaViolation, $"{path}.address", $"'{a}' is not a PCI address with its domain, in lower case, such as 0000:01:00.0.");
                    ok = false;
                }
                else if (firstIndexOf.TryGetValue(address, out var first))
                {
                    add(VdpaConfigurationProblemKind.DuplicateDeviceName, $"{path}.address",
                        $"The physical function {address} is already given by {At}[{first.ToString(CultureInfo.InvariantCulture)}]; each is given once.");
                    ok = false;
                }
                else
                {
                    firstIndexOf[address] = index - 1;
                }
            }
            else
            {
                ok = false;
            }

            if (!item.TryGetProperty("vfCount", out _))
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, path, "The required property \"vfCount\" is missing.");
                ok = false;
            }

            var count = ReadInteger(item, "vfCount", path, 0, ushort.MaxValue, add, ref ok);
            string? driver = null;
            if (item.TryGetProperty("vfDriver", out var driverElement))
            {
                driver = ReadString(driverElement, $"{path}.vfDriver", add);
                if (driver is null || VdpaText.CheckDeviceName(driver) is not null)
                {
                    if (driver is not null)
                    {
                        add(VdpaConfigurationProblemKind.SchemaViolation, $"{path}.vfDriver", $"'{driver}' is not a PCI driver's name.");
                    }

                    ok = false;
                }
            }

            if (ok && address is not null && count is { } n)
            {
                pfs.Add(new VdpaPhysicalFunctionDefinition { PciAddress = address, VfCount = n, VfDriver = driver });
            }
        }

        return pfs;
    }

    private static VdpaDeviceDefinition? ReadDevice(JsonElement item, string path, Action<VdpaConfigurationProblemKind, string, string> add)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, path, $"A device must be a JSON object, not {Describe(item)}.");
            return null;
        }

        var ok = CheckProperties(item, path, DeviceProperties, add);
        string? name = null;
        string? parent = null;
        if (!item.TryGetProperty("name", out var nameElement))
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, path, "The required property \"name\" is missing.");
            ok = false;
        }
        else if (ReadString(nameElement, $"{path}.name", add) is { } n)
        {
            if (VdpaText.CheckDeviceName(n) is { } problem)
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, $"{path}.name", $"'{n}' is not a device name: {problem}");
                ok = false;
            }

            name = n;
        }
        else
        {
            ok = false;
        }

        if (!item.TryGetProperty("parent", out var parentElement))
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, path, "The required property \"parent\" is missing.");
            ok = false;
        }
        else if (ReadString(parentElement, $"{path}.parent", add) is { } p)
        {
            if (VdpaText.CheckParentName(p) is { } problem)
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, $"{path}.parent", problem);
                ok = false;
            }

            parent = p;
        }
        else
        {
            ok = false;
        }

        string? mac = null;
        if (item.TryGetProperty("mac", out var macElement))
        {
            if (ReadString(macElement, $"{path}.mac", add) is { } text)
            {
                if (VdpaText.ParseMacAddress(text, out var macError) is { } bytes)
                {
                    mac = VdpaText.FormatMacAddress(bytes);
                }
                else
                {
                    add(VdpaConfigurationProblemKind.InvalidMacAddress, $"{path}.mac", macError!);
                    ok = false;
                }
            }
            else
            {
                ok = false;
            }
        }

        var mtu = ReadInteger(item, "mtu", path, VdpaFamily.MinMtu, ushort.MaxValue, add, ref ok);
        var pairs = ReadInteger(item, "maxQueuePairs", path, 1, VdpaFamily.MaxQueuePairs, add, ref ok);

        string[]? features = null;
        if (item.TryGetProperty("features", out var featureElement))
        {
            features = ReadFeatures(featureElement, $"{path}.features", add, ref ok);
        }

        string? driver = null;
        if (item.TryGetProperty("driver", out var driverElement))
        {
            if (ReadString(driverElement, $"{path}.driver", add) is { } d)
            {
                if (Drivers.Contains(d, StringComparer.Ordinal))
                {
                    driver = d;
                }
                else
                {
                    add(VdpaConfigurationProblemKind.UnknownDriver, $"{path}.driver",
                        $"'{d}' is not a driver a device can be bound to: use {string.Join(", ", Drivers)}.");
                    ok = false;
                }
            }
            else
            {
                ok = false;
            }
        }

        // A device with a problem still counts for duplicate names when its name could be read.
        return name is null ? null : new VdpaDeviceDefinition
        {
            Name = name,
            Parent = parent ?? string.Empty,
            MacAddress = mac,
            Mtu = mtu,
            MaxQueuePairs = pairs,
            Features = features,
            Driver = driver,
        };
    }

    private static string[]? ReadFeatures(JsonElement element, string path, Action<VdpaConfigurationProblemKind, string, string> add, ref bool ok)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, path, $"\"features\" must be an array of feature names, not {Describe(element)}.");
            ok = false;
            return null;
        }

        var names = new List<string>();
        var i = 0;
        foreach (var entry in element.EnumerateArray())
        {
            var entryPath = $"{path}[{i.ToString(CultureInfo.InvariantCulture)}]";
            i++;
            if (ReadString(entry, entryPath, add) is not { } name)
            {
                ok = false;
                continue;
            }

            if (!IsFeatureName(name))
            {
                add(VdpaConfigurationProblemKind.UnknownFeature, entryPath,
                    $"'{name}' is not a virtio feature name: use the names Get-VdpaParent and Get-VdpaDeviceConfig print (MAC, MTU, VERSION_1...), or bit_N for a bit without a name.");
                ok = false;
            }
            else if (names.Contains(name, StringComparer.Ordinal))
            {
                add(VdpaConfigurationProblemKind.SchemaViolation, entryPath, $"The feature '{name}' is listed twice.");
                ok = false;
            }
            else
            {
                names.Add(name);
            }
        }

        return [.. names];
    }

    /// <summary>A short virtio name as the module prints it, or bit_N (0 to 63) for a bit without a name.</summary>
    public static bool IsFeatureName(string name) => FeatureNameSet.Contains(name) || BitName().IsMatch(name);

    [GeneratedRegex("^bit_([0-9]|[1-5][0-9]|6[0-3])$")]
    private static partial Regex BitName();

    private static int? ReadInteger(JsonElement item, string property, string path, int min, int max,
        Action<VdpaConfigurationProblemKind, string, string> add, ref bool ok)
    {
        if (!item.TryGetProperty(property, out var element))
        {
            return null;
        }

        var at = $"{path}.{property}";
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, at, $"\"{property}\" must be an integer, not {Describe(element)}.");
            ok = false;
            return null;
        }

        if (value < min || value > max)
        {
            add(VdpaConfigurationProblemKind.SchemaViolation, at, $"\"{property}\" is {value.ToString(CultureInfo.InvariantCulture)}: it must be {min} to {max}.");
            ok = false;
            return null;
        }

        return (int)value;
    }

    private static string? ReadString(JsonElement element, string path, Action<VdpaConfigurationProblemKind, string, string> add)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return element.GetString();
        }

        add(VdpaConfigurationProblemKind.SchemaViolation, path, $"A string is needed here, not {Describe(element)}.");
        return null;
    }

    private static bool CheckProperties(JsonElement element, string path, string[] allowed, Action<VdpaConfigurationProblemKind, string, string> add)
    {
        var ok = true;
        foreach (var property in element.EnumerateObject())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal))
            {
                var near = allowed.FirstOrDefault(a => string.Equals(a, property.Name, StringComparison.OrdinalIgnoreCase));
                add(VdpaConfigurationProblemKind.UnknownProperty, LineMap.Child(path, property.Name),
                    $"\"{property.Name}\" is not a property the format knows{(near is null ? string.Empty : $" (did you mean \"{near}\"?)")}; " +
                    $"it knows {string.Join(", ", allowed.Select(a => $"\"{a}\""))}.");
                ok = false;
            }
        }

        return ok;
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{element.GetString()}\"",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => element.GetRawText(),
        _ => "null",
    };

    /// <summary>The line each property path starts on: JsonDocument keeps no positions, so the reader walks the tokens once.</summary>
    private sealed partial class LineMap
    {
        private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

        /// <summary>Properties named twice in one object: the path, the line of the second, the line of the first.</summary>
        public List<(string Path, int Line, int First)> Duplicates { get; } = [];

        public int? LineOf(string path) => _lines.TryGetValue(path, out var line) ? line : null;

        public static string Child(string path, string property) =>
            PlainName().IsMatch(property) ? $"{path}.{property}" : $"{path}['{property.Replace("'", "\\'", StringComparison.Ordinal)}']";

        public static LineMap Build(byte[] utf8)
        {
            var map = new LineMap();
            var newlines = new List<int>();
            for (var i = 0; i < utf8.Length; i++)
            {
                if (utf8[i] == (byte)'\n')
                {
                    newlines.Add(i);
                }
            }

            int LineAt(long offset)
            {
                var found = newlines.BinarySearch((int)offset);
                return (found < 0 ? ~found : found) + 1;
            }

            var reader = new Utf8JsonReader(utf8);
            var containers = new Stack<(bool IsArray, string Path, int Next)>();
            string? propertyPath = null;
            string ValuePath()
            {
                if (containers.Count == 0)
                {
                    return "$";
                }

                var top = containers.Pop();
                if (!top.IsArray)
                {
                    containers.Push(top);
                    return propertyPath ?? top.Path;
                }

                containers.Push(top with { Next = top.Next + 1 });
                return $"{top.Path}[{top.Next.ToString(CultureInfo.InvariantCulture)}]";
            }

            while (reader.Read())
            {
                var line = LineAt(reader.TokenStartIndex);
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        propertyPath = Child(containers.Peek().Path, reader.GetString()!);
                        if (!map._lines.TryAdd(propertyPath, line))
                        {
                            map.Duplicates.Add((propertyPath, line, map._lines[propertyPath]));
                        }

                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        var path = ValuePath();
                        map._lines.TryAdd(path, line);
                        containers.Push((reader.TokenType == JsonTokenType.StartArray, path, 0));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        containers.Pop();
                        break;
                    default:
                        map._lines.TryAdd(ValuePath(), line);
                        break;
                }
            }

            return map;
        }

        [GeneratedRegex("^[A-Za-z_$][A-Za-z0-9_$]*$")]
        private static partial Regex PlainName();
    }
}

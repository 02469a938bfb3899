using System.Text.Json.Nodes;
using Json.Schema;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

public class VdpaConfigurationTests
{
    private static readonly string SampleDirectory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "configuration");

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "VdpaPS.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{relative} was not found above {AppContext.BaseDirectory}.");
    }

    private static IEnumerable<string> SampleFiles() =>
        Directory.GetFiles(SampleDirectory, "*.json").Order().Append(RepositoryFile("docs/examples/devices.json"));

    [Theory]
    [InlineData("bad-json.json", VdpaConfigurationProblemKind.InvalidJson, "$", 3)]
    [InlineData("bad-unknown-property.json", VdpaConfigurationProblemKind.UnknownProperty, "$.devices[1].macaddress", 4)]
    [InlineData("bad-schema-mtu.json", VdpaConfigurationProblemKind.SchemaViolation, "$.devices[0].mtu", 3)]
    [InlineData("bad-schema-type.json", VdpaConfigurationProblemKind.SchemaViolation, "$.devices[0].maxQueuePairs", 3)]
    [InlineData("bad-schema-missing-parent.json", VdpaConfigurationProblemKind.SchemaViolation, "$.devices[0]", 3)]
    [InlineData("bad-driver.json", VdpaConfigurationProblemKind.UnknownDriver, "$.devices[0].driver", 3)]
    [InlineData("bad-feature.json", VdpaConfigurationProblemKind.UnknownFeature, "$.devices[0].features[2]", 4)]
    [InlineData("bad-mac.json", VdpaConfigurationProblemKind.InvalidMacAddress, "$.devices[2].mac", 5)]
    [InlineData("bad-mac-multicast.json", VdpaConfigurationProblemKind.InvalidMacAddress, "$.devices[0].mac", 3)]
    [InlineData("bad-duplicate.json", VdpaConfigurationProblemKind.DuplicateDeviceName, "$.devices[2].name", 5)]
    [InlineData("bad-name.json", VdpaConfigurationProblemKind.SchemaViolation, "$.devices[0].name", 3)]
    [InlineData("bad-pf-address.json", VdpaConfigurationProblemKind.SchemaViolation, "$.physicalFunctions[0].address", 3)]
    [InlineData("bad-pf-count.json", VdpaConfigurationProblemKind.SchemaViolation, "$.physicalFunctions[0].vfCount", 3)]
    public void EachBadFileIsReportedWithItsKindPathAndLine(string file, VdpaConfigurationProblemKind kind, string path, int line)
    {
        var full = Path.Combine(SampleDirectory, file);
        var e = Assert.Throws<VdpaConfigurationException>(() => VdpaConfigurationReader.ReadFile(full, check: false));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(kind, problem.Kind);
        Assert.Equal(path, problem.Path);
        Assert.Equal(line, problem.Line);
        Assert.Equal(full, problem.File);
        Assert.Contains(full, problem.Message, StringComparison.Ordinal);
        Assert.Contains(path, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProblemOfAFileIsReportedAtOnce()
    {
        const string json = """
            {"devices": [
              {"name": "a", "parent": "vdpasim_net", "mac": "zz", "driver": "kvm"},
              {"name": "a", "parent": "vdpasim_net", "features": ["NOPE"]}
            ]}
            """;
        var e = Assert.Throws<VdpaConfigurationException>(() => VdpaConfigurationReader.Parse(json, "x.json"));
        Assert.Equal(
            [VdpaConfigurationProblemKind.InvalidMacAddress, VdpaConfigurationProblemKind.UnknownDriver,
             VdpaConfigurationProblemKind.UnknownFeature, VdpaConfigurationProblemKind.DuplicateDeviceName],
            e.Problems.Select(p => p.Kind));
    }

    [Fact]
    public void AValidFileIsReadAsWritten()
    {
        var configuration = VdpaConfigurationReader.ReadFile(Path.Combine(SampleDirectory, "valid-full.json"), check: false);
        Assert.Equal(["net0", "blk0", "vf0"], configuration.Devices.Select(d => d.Name));
        var net = configuration.Devices[0];
        Assert.Equal("02:aa:bb:00:00:01", net.MacAddress);
        Assert.Equal(68, net.Mtu);
        Assert.Equal(32768, net.MaxQueuePairs);
        Assert.Equal(["MAC", "MTU", "VERSION_1", "bit_40"], net.Features!);
        Assert.Equal("vhost_vdpa", net.Driver);
        Assert.Null(configuration.Devices[1].MacAddress);
    }

    [Fact]
    public void PhysicalFunctionsAreReadBeforeTheDevicesTheyMake()
    {
        var configuration = VdpaConfigurationReader.ReadFile(Path.Combine(SampleDirectory, "valid-physical-functions.json"), check: false);
        Assert.Equal(["0000:01:00.0", "0000:02:00.0"], configuration.PhysicalFunctions!.Select(p => p.PciAddress));
        Assert.Equal([3, 0], configuration.PhysicalFunctions!.Select(p => p.VfCount));
        Assert.Equal(["vp-vdpa", null], configuration.PhysicalFunctions!.Select(p => p.VfDriver));
        Assert.Equal("pci/0000:01:00.2", configuration.Devices[0].Parent);
        // Written back as read: the section comes before the devices, a driver left out stays out.
        var text = VdpaConfigurationWriter.Serialize(new VdpaConfiguration { PhysicalFunctions = configuration.PhysicalFunctions, Devices = configuration.Devices });
        Assert.True(text.IndexOf("physicalFunctions", StringComparison.Ordinal) < text.IndexOf("devices", StringComparison.Ordinal));
        Assert.Equal(configuration.PhysicalFunctions, VdpaConfigurationReader.Parse(text, "again.json").PhysicalFunctions!);
        Assert.DoesNotContain("physicalFunctions", VdpaConfigurationWriter.Serialize(new VdpaConfiguration { Devices = [] }), StringComparison.Ordinal);
    }

    [Fact]
    public void APhysicalFunctionGivenTwiceIsRefused()
    {
        const string json = """
            {"physicalFunctions": [{"address": "0000:01:00.0", "vfCount": 1}, {"address": "0000:01:00.0", "vfCount": 2}], "devices": []}
            """;
        var e = Assert.Throws<VdpaConfigurationException>(() => VdpaConfigurationReader.Parse(json, "x.json"));
        Assert.Equal("$.physicalFunctions[1].address", Assert.Single(e.Problems).Path);
    }

    /// <summary>The published schema and the validator accept and refuse the same files; only duplicate names are beyond JSON Schema.</summary>
    [Fact]
    public void SchemaAndValidatorAgreeOnTheSampleFiles()
    {
        var schema = JsonSchema.FromText(File.ReadAllText(RepositoryFile("docs/vdpa-configuration.schema.json")));
        var files = SampleFiles().ToList();
        Assert.True(files.Count >= 10);
        foreach (var file in files)
        {
            var problems = VdpaConfigurationReader.Validate(File.ReadAllBytes(file), file, out _);
            bool schemaValid;
            try
            {
                schemaValid = schema.Evaluate(JsonNode.Parse(File.ReadAllText(file))).IsValid;
            }
            catch (System.Text.Json.JsonException)
            {
                schemaValid = false;
            }

            if (problems.Any(p => p.Kind == VdpaConfigurationProblemKind.DuplicateDeviceName))
            {
                Assert.True(schemaValid, $"{file}: the schema cannot see duplicate names, so it should accept the file otherwise");
                continue;
            }

            Assert.True(schemaValid == (problems.Count == 0),
                $"{Path.GetFileName(file)}: schema says {(schemaValid ? "valid" : "invalid")}, validator says {string.Join("; ", problems.Select(p => p.Message))}");
        }
    }

    [Fact]
    public void SchemaListsTheFeatureNamesAndDriversTheValidatorKnows()
    {
        var schema = JsonNode.Parse(File.ReadAllText(RepositoryFile("docs/vdpa-configuration.schema.json")))!;
        var device = schema["$defs"]!["device"]!["properties"]!;
        var names = device["features"]!["items"]!["anyOf"]![0]!["enum"]!.AsArray().Select(n => n!.GetValue<string>());
        Assert.Equal(VdpaConfigurationReader.FeatureNames.Order(), names.Order());
        Assert.Equal(VdpaConfigurationReader.Drivers.Order(), device["driver"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()).Order());
    }

    private static VdpaDeviceState Host(string name, string parent = "vdpasim_net", string? mac = "02:00:00:00:00:01", int? mtu = 1500,
        int? pairs = 1, ulong? features = null, string driver = "vhost_vdpa", VirtioDeviceClass type = VirtioDeviceClass.Net) =>
        new()
        {
            Type = type,
            FeatureMask = features,
            Device = new VdpaDevice { Name = name, Parent = parent, Type = type },
            Definition = new VdpaDeviceDefinition
            {
                Name = name, Parent = parent, MacAddress = mac, Mtu = mtu, MaxQueuePairs = pairs, Driver = driver,
                Features = features is { } f ? VirtioFeatures.GetNames(f, type) : null,
            },
        };

    private static VdpaConfiguration Desired(params VdpaDeviceDefinition[] devices) => new() { Devices = devices };

    private const ulong MacMtuVersion1 = (1UL << 5) | (1UL << 3) | (1UL << 32);

    [Fact]
    public void AHostThatMatchesHasNoDifference()
    {
        var host = new[] { Host("a", features: MacMtuVersion1), Host("b", mac: null, mtu: null, pairs: null, driver: "none", type: VirtioDeviceClass.Block, parent: "vdpasim_blk") };
        var file = Desired(
            new() { Name = "a", Parent = "VDPASIM_NET", MacAddress = "02-00-00-00-00-01", Mtu = 1500, MaxQueuePairs = 1, Features = ["VERSION_1", "MTU", "MAC"], Driver = "vhost_vdpa" },
            new() { Name = "b", Parent = "vdpasim_blk", Driver = "none" });
        Assert.Empty(VdpaConfigurationDiff.Compute(file, host, macSettable: true));
    }

    [Fact]
    public void UnmanagedAttributesAreNotCompared()
    {
        var file = Desired(new VdpaDeviceDefinition { Name = "a", Parent = "vdpasim_net" });
        Assert.Empty(VdpaConfigurationDiff.Compute(file, [Host("a", driver: "none", features: 1)], macSettable: true));
    }

    [Fact]
    public void TheDriftCasesAreEachOneDifference()
    {
        var host = new[]
        {
            Host("mac", mac: "02:00:00:00:00:99"),
            Host("unbound", driver: "none"),
            Host("extra"),
        };
        var file = Desired(
            new() { Name = "mac", Parent = "vdpasim_net", MacAddress = "02:00:00:00:00:01" },
            new() { Name = "unbound", Parent = "vdpasim_net", Driver = "virtio_vdpa" },
            new() { Name = "gone", Parent = "vdpasim_net", Driver = "vhost_vdpa" });
        var differences = VdpaConfigurationDiff.Compute(file, host, macSettable: true);
        Assert.Collection(differences,
            d => Assert.Equal(("mac", VdpaConfigurationChange.MacAddress, "mac", "02:00:00:00:00:01", "02:00:00:00:00:99"), (d.Name, d.Change, d.Attribute, d.Desired, d.Actual)),
            d => Assert.Equal(("unbound", VdpaConfigurationChange.Driver, "driver", "virtio_vdpa", "none"), (d.Name, d.Change, d.Attribute, d.Desired, d.Actual)),
            d => Assert.Equal(("gone", VdpaConfigurationChange.Create), (d.Name, d.Change)),
            d => Assert.Equal(("extra", VdpaConfigurationChange.NotInFile), (d.Name, d.Change)));
        Assert.Same(file.Devices[2], differences[2].Definition);
        Assert.Equal("extra", differences[3].Current!.Name);
    }

    [Fact]
    public void UnchangeableAttributesNeedARecreationWithBothValues()
    {
        var host = new[] { Host("a", parent: "pci/0000:00:04.0", mtu: 1500, pairs: 2, features: MacMtuVersion1) };
        var file = Desired(new VdpaDeviceDefinition
        {
            Name = "a", Parent = "vdpasim_net", Mtu = 9000, MaxQueuePairs = 4, Features = ["MAC", "MTU", "VERSION_1", "MQ"],
        });
        var differences = VdpaConfigurationDiff.Compute(file, host, macSettable: true);
        Assert.All(differences, d => Assert.Equal(VdpaConfigurationChange.Recreate, d.Change));
        Assert.Equal(
            [("parent", "vdpasim_net", "pci/0000:00:04.0"), ("mtu", "9000", "1500"), ("maxQueuePairs", "4", "2"), ("features", "MAC, MTU, VERSION_1, MQ", "MTU, MAC, VERSION_1")],
            differences.Select(d => (d.Attribute!, d.Desired, d.Actual)));
    }

    [Fact]
    public void ABusParentMayBeNamedByItsAddressAlone()
    {
        var host = new[] { Host("a", parent: "pci/0000:00:04.0") };
        Assert.Empty(VdpaConfigurationDiff.Compute(Desired(new VdpaDeviceDefinition { Name = "a", Parent = "0000:00:04.0" }), host, true));
        Assert.NotEmpty(VdpaConfigurationDiff.Compute(Desired(new VdpaDeviceDefinition { Name = "a", Parent = "0000:00:05.0" }), host, true));
    }

    [Fact]
    public void AMacTheKernelCannotSetNeedsARecreation()
    {
        var file = Desired(new VdpaDeviceDefinition { Name = "a", Parent = "vdpasim_net", MacAddress = "02:00:00:00:00:02" });
        var d = Assert.Single(VdpaConfigurationDiff.Compute(file, [Host("a")], macSettable: false));
        Assert.Equal((VdpaConfigurationChange.Recreate, "mac"), (d.Change, d.Attribute));
    }

    [Fact]
    public void AFeatureOfAnotherClassIsADifference()
    {
        var file = Desired(new VdpaDeviceDefinition { Name = "b", Parent = "vdpasim_blk", Features = ["MAC"] });
        var host = new[] { Host("b", parent: "vdpasim_blk", type: VirtioDeviceClass.Block, features: 1UL << 32) };
        var d = Assert.Single(VdpaConfigurationDiff.Compute(file, host, true));
        Assert.Equal(("features", "MAC", "VERSION_1"), (d.Attribute, d.Desired, d.Actual));
    }

    [Fact]
    public void AnExportedDeviceReadsBackWithoutDifference()
    {
        var device = new VdpaDevice { Name = "n", Parent = "vdpasim_net", Type = VirtioDeviceClass.Net, Driver = null };
        // As decoded from a reply without MAX_VQP: one pair, which the file leaves out (vdpasim_net would refuse it).
        var config = new VdpaNetDeviceConfig { Name = "n", Type = VirtioDeviceClass.Net, MacAddress = "02:00:00:00:00:05", Mtu = 9000, DeviceFeatureMask = MacMtuVersion1, MaxQueuePairs = 1 };
        var state = VdpaDeviceState.FromDevice(device, config);
        Assert.Equal(("none", (int?)null), (state.Definition.Driver, state.Definition.MaxQueuePairs));
        Assert.Equal(["MTU", "MAC", "VERSION_1"], state.Definition.Features!);
        var written = VdpaConfigurationWriter.Serialize(new VdpaConfiguration { Devices = [state.Definition] });
        var read = VdpaConfigurationReader.Parse(written, "export.json");
        Assert.Empty(VdpaConfigurationDiff.Compute(read, [state], macSettable: true));
        // Without MQ the device has one pair: a file that says 1 matches, one that says 2 does not.
        Assert.Empty(VdpaConfigurationDiff.Compute(Desired(read.Devices[0] with { MaxQueuePairs = 1 }), [state], true));
        Assert.Single(VdpaConfigurationDiff.Compute(Desired(read.Devices[0] with { MaxQueuePairs = 2 }), [state], true));
    }
}

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class VdpaConfigurationFileCheckTests : IDisposable
{
    private static Func<string, (uint Uid, uint Mode)?> Tree(params (string Path, uint Uid, string Mode)[] entries) =>
        path => entries.FirstOrDefault(e => e.Path == path) is { Path: not null } e ? (e.Uid, Convert.ToUInt32(e.Mode, 8)) : null;

    private static readonly (string, uint, string)[] RootTree = [("/", 0, "40755"), ("/etc", 0, "40755"), ("/etc/vdpaps", 0, "40755"), ("/etc/vdpaps/devices.json", 0, "100644")];

    private static VdpaUnsafePath? Check((string Path, uint Uid, string Mode)[] tree, uint[]? trusted = null)
    {
        var stat = Tree(tree);
        return VdpaConfigurationFileCheck.FindUnsafe("/etc/vdpaps/devices.json", stat("/etc/vdpaps/devices.json")!.Value, trusted ?? [0u], stat);
    }

    [Fact]
    public void ARootOwnedTreeIsAccepted() => Assert.Null(Check(RootTree));

    [Theory]
    [InlineData("/etc/vdpaps/devices.json", 0u, "100664", "writable by its group")]
    [InlineData("/etc/vdpaps/devices.json", 0u, "100646", "writable by every user")]
    [InlineData("/etc/vdpaps/devices.json", 1000u, "100644", "owned by user id 1000")]
    [InlineData("/etc/vdpaps/devices.json", 0u, "10644", "not a regular file")]
    [InlineData("/etc/vdpaps", 0u, "40777", "a folder above the file is writable by every user")]
    [InlineData("/etc/vdpaps", 1000u, "40755", "a folder above the file is owned by user id 1000")]
    public void AnotherUsersWriteAccessIsRefused(string path, uint uid, string mode, string reason)
    {
        var tree = RootTree.Select(e => e.Item1 == path ? (path, uid, mode) : e).ToArray();
        var found = Check(tree);
        Assert.NotNull(found);
        Assert.Equal(path, found.Path);
        Assert.Contains(reason, found.Reason, StringComparison.Ordinal);
    }

    /// <summary>A non-root caller that can change devices (CAP_NET_ADMIN) is checked too: its own files and root's are trusted, nobody else's.</summary>
    [Fact]
    public void ANonRootCallerWithNetAdminIsCheckedAndTrustsItselfAndRoot()
    {
        const ulong netAdmin = 1UL << 12;
        Assert.True(VdpaConfigurationFileCheck.AppliesTo(0, 0));
        Assert.True(VdpaConfigurationFileCheck.AppliesTo(1000, netAdmin));
        Assert.True(VdpaConfigurationFileCheck.AppliesTo(1000, null)); // capabilities unknown: checked
        Assert.False(VdpaConfigurationFileCheck.AppliesTo(1000, 0)); // cannot change devices: the kernel refuses it anyway
        Assert.Equal([0u, 1000u], VdpaConfigurationFileCheck.TrustedOwners(1000));
        Assert.Equal([0u], VdpaConfigurationFileCheck.TrustedOwners(0));

        var own = RootTree.Select(e => e.Item1 == "/etc/vdpaps/devices.json" ? (e.Item1, 1000u, e.Item3) : e).ToArray();
        Assert.Null(Check(own, [0u, 1000u]));
        var others = RootTree.Select(e => e.Item1 == "/etc/vdpaps/devices.json" ? (e.Item1, 1001u, e.Item3) : e).ToArray();
        Assert.Contains("owned by user id 1001, not root or user id 1000 (the caller)", Check(others, [0u, 1000u])!.Reason, StringComparison.Ordinal);
    }

    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-filecheck-").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Folders above the test's own tree (/tmp is every user's) count as safe; inside it the real stat(2) answers.</summary>
    private (uint Uid, uint Mode)? StatInTree(string path)
    {
        if (!path.StartsWith(_root, StringComparison.Ordinal))
        {
            return (VdpaConfigurationFileCheck.EffectiveUid, 0x41ED); // 040755
        }

        var info = new DirectoryInfo(path);
        return info.Exists ? (VdpaConfigurationFileCheck.EffectiveUid, 0x4000u | (uint)info.UnixFileMode) : null;
    }

    private string Folder(string relative, string mode)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(mode, 8));
        return path;
    }

    private static string WriteFile(string path, string text, string mode)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(mode, 8));
        return path;
    }

    private byte[] Read(string file) => VdpaConfigurationFileCheck.Read(file, check: true, [VdpaConfigurationFileCheck.EffectiveUid], StatInTree);

    [Fact]
    public void AFileOfTheCallersAloneIsReadThroughOneDescriptor()
    {
        var file = WriteFile(Path.Combine(Folder("etc", "755"), "devices.json"), "{\"devices\": []}", "644");
        Assert.Equal("{\"devices\": []}", System.Text.Encoding.UTF8.GetString(Read(file)));
    }

    /// <summary>The owner and mode come from fstat on the opened descriptor: a file swapped in by path after the open changes nothing.</summary>
    [Fact]
    public void TheCheckIsOfTheFileOpenedNotOfThePathAfterwards()
    {
        var etc = Folder("etc", "755");
        var file = WriteFile(Path.Combine(etc, "devices.json"), "loose", "666");
        var tight = WriteFile(Path.Combine(etc, "tight.json"), "tight", "644");
        var e = Assert.Throws<VdpaConfigurationNotSecureException>(() =>
            VdpaConfigurationFileCheck.Read(file, check: true, [VdpaConfigurationFileCheck.EffectiveUid], StatInTree, opened: () => File.Move(tight, file, overwrite: true)));
        Assert.Contains("writable by every user", e.Found.Reason, StringComparison.Ordinal);

        // The other way round: the tight file is the one opened and read, whatever is put at its path next.
        var loose = WriteFile(Path.Combine(etc, "loose.json"), "swapped", "666");
        var content = VdpaConfigurationFileCheck.Read(file, check: true, [VdpaConfigurationFileCheck.EffectiveUid], StatInTree,
            opened: () => File.Move(loose, file, overwrite: true));
        Assert.Equal("tight", System.Text.Encoding.UTF8.GetString(content));
    }

    /// <summary>A symlinked folder in the middle of the path is resolved: the folders above its target are the ones checked.</summary>
    [Fact]
    public void TheFoldersAboveTheRealPathAreChecked()
    {
        var real = Folder("loose/real", "755");
        File.SetUnixFileMode(Path.Combine(_root, "loose"), (UnixFileMode)Convert.ToInt32("777", 8));
        var etc = Folder("etc", "755");
        Directory.CreateSymbolicLink(Path.Combine(etc, "vdpaps"), real);
        WriteFile(Path.Combine(real, "devices.json"), "{}", "644");

        var e = Assert.Throws<VdpaConfigurationNotSecureException>(() => Read(Path.Combine(etc, "vdpaps", "devices.json")));
        Assert.Equal(Path.Combine(_root, "loose"), e.Found.Path);
        Assert.Contains("a folder above the file is writable by every user", e.Found.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutTheCheckALooseFileIsRead()
    {
        var file = WriteFile(Path.Combine(Folder("tmp", "777"), "devices.json"), "x", "666");
        Assert.Equal("x", System.Text.Encoding.UTF8.GetString(VdpaConfigurationFileCheck.Read(file, check: false)));
    }
}

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class VdpaConfigurationWriteTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vdpaps-export-").FullName;

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>The text goes to a temporary file in the same folder, renamed over the target: until the rename the old file is whole.</summary>
    [Fact]
    public void TheFileIsReplacedByARenameOfATemporaryFileInTheSameFolder()
    {
        var file = Path.Combine(_root, "devices.json");
        File.WriteAllText(file, "old");
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("640", 8));
        var inode = InodeOf(file);
        string? temporary = null;
        VdpaConfigurationWriter.WriteFile(file, "new", beforeRename: t =>
        {
            temporary = t;
            Assert.Equal("old", File.ReadAllText(file));
            Assert.Equal("new", File.ReadAllText(t));
        });

        Assert.Equal(_root, Path.GetDirectoryName(temporary));
        Assert.False(File.Exists(temporary));
        Assert.Equal("new", File.ReadAllText(file));
        Assert.NotEqual(inode, InodeOf(file)); // a new file, not the old one truncated
        Assert.Equal((UnixFileMode)Convert.ToInt32("640", 8), File.GetUnixFileMode(file));
        Assert.Equal([file], Directory.GetFiles(_root));
    }

    [Fact]
    public void AFailedWriteLeavesTheOldFileAndNoTemporaryOne()
    {
        var file = Path.Combine(_root, "devices.json");
        File.WriteAllText(file, "old");
        Assert.Throws<IOException>(() => VdpaConfigurationWriter.WriteFile(file, "new", beforeRename: _ => throw new IOException("disk full")));
        Assert.Equal("old", File.ReadAllText(file));
        Assert.Equal([file], Directory.GetFiles(_root));
    }

    [Fact]
    public void ASymlinkAsTargetIsRefusedAndWhatItPointsToIsUntouched()
    {
        var elsewhere = Path.Combine(_root, "shadow");
        File.WriteAllText(elsewhere, "root's file");
        var link = Path.Combine(_root, "devices.json");
        File.CreateSymbolicLink(link, elsewhere);
        var e = Assert.Throws<IOException>(() => VdpaConfigurationWriter.WriteFile(link, "new"));
        Assert.Contains("is a symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Equal("root's file", File.ReadAllText(elsewhere));
        Assert.NotNull(new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void ANewFileIsCreatedWithMode644()
    {
        var file = Path.Combine(_root, "new.json");
        VdpaConfigurationWriter.WriteFile(file, "x");
        Assert.Equal((UnixFileMode)Convert.ToInt32("644", 8), File.GetUnixFileMode(file));
    }

    private static long InodeOf(string path)
    {
        var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

public class VdpaConfigurationDuplicateKeyTests
{
    [Theory]
    [InlineData("{\n \"devices\": [\n  {\"name\": \"a\",\n   \"parent\": \"vdpasim_net\",\n   \"mac\": \"02:00:00:00:00:01\",\n   \"mac\": \"02:00:00:00:00:02\"}\n ]\n}", "$.devices[0].mac", 6, 5)]
    [InlineData("{\n \"devices\": [],\n \"devices\": [{\"name\": \"a\", \"parent\": \"vduse\"}]\n}", "$.devices", 3, 2)]
    public void ADuplicateKeyIsRefusedWithItsLine(string json, string path, int line, int first)
    {
        var e = Assert.Throws<VdpaConfigurationException>(() => VdpaConfigurationReader.Parse(json, "dup.json"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal((VdpaConfigurationProblemKind.DuplicateProperty, path, (int?)line), (problem.Kind, problem.Path, problem.Line));
        Assert.Contains($"first on line {first}", problem.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameKeyInTwoObjectsIsNoDuplicate() =>
        Assert.Equal(2, VdpaConfigurationReader.Parse("""{"devices": [{"name": "a", "parent": "vduse"}, {"name": "b", "parent": "vduse"}]}""", "ok.json").Devices.Count);
}

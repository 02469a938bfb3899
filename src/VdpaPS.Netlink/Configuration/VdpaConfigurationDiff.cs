using System.Globalization;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Configuration;

/// <summary>A host device as a configuration file would describe it, with what the comparison needs beyond the file's words.</summary>
internal sealed class VdpaDeviceState
{
    public required VdpaDeviceDefinition Definition { get; init; }

    public VirtioDeviceClass Type { get; init; }

    /// <summary>The device's features; null where the kernel does not report them (before 6.1, block devices before 6.9).</summary>
    public ulong? FeatureMask { get; init; }

    /// <summary>The device as netlink and sysfs describe it.</summary>
    public required VdpaDevice Device { get; init; }

    /// <summary>
    /// Reads every device of the host (DEV_GET and DEV_CONFIG_GET dumps, the driver from sysfs). A device the configuration
    /// dump leaves out (6.1 stops at the first block device) is asked for alone; one whose configuration this kernel cannot
    /// read keeps only what DEV_GET says.
    /// </summary>
    public static IReadOnlyList<VdpaDeviceState> ReadHost(VdpaClient client, VdpaSysfs sysfs, Func<string, bool>? include = null)
    {
        var devices = client.GetDevices().Where(d => include?.Invoke(d.Name) ?? true).ToList();
        var configs = new Dictionary<string, VdpaDeviceConfig>(StringComparer.Ordinal);
        if (devices.Count > 0 && client.Supports(VdpaCommand.DeviceConfigGet))
        {
            foreach (var config in client.GetConfigs())
            {
                configs[config.Name] = config;
            }

            foreach (var device in devices.Where(d => !configs.ContainsKey(d.Name)))
            {
                try
                {
                    configs[device.Name] = client.GetConfig(device.Name);
                }
                catch (NetlinkException)
                {
                    // Block configuration before 6.9, or a device removed meanwhile: described without its configuration.
                }
            }
        }

        var states = new List<VdpaDeviceState>();
        foreach (var device in devices)
        {
            try
            {
                sysfs.Describe(device);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A device that vanished from sysfs keeps netlink's description; its driver reads as none.
            }

            states.Add(FromDevice(device, configs.GetValueOrDefault(device.Name)));
        }

        return states;
    }

    /// <summary>The file's description of a device as read (what Export-VdpaConfiguration writes).</summary>
    public static VdpaDeviceState FromDevice(VdpaDevice device, VdpaDeviceConfig? config)
    {
        var net = config as VdpaNetDeviceConfig;
        var features = config?.DeviceFeatureMask;
        return new VdpaDeviceState
        {
            Device = device,
            Type = device.Type,
            FeatureMask = features,
            Definition = new VdpaDeviceDefinition
            {
                Name = device.Name,
                Parent = device.Parent,
                MacAddress = net?.MacAddress,
                Mtu = net?.Mtu,
                // The kernel shows MAX_VQP only with MQ (or RSS); without it the device has one pair, and the file leaves the
                // attribute out: parents that cannot provision it (vdpasim_net) would refuse a DEV_NEW that sends it.
                MaxQueuePairs = net is { ShowsMaxQueuePairs: true } ? net.MaxQueuePairs : null,
                Features = features is { } mask ? VirtioFeatures.GetNames(mask, device.Type) : null,
                Driver = device.Driver ?? VdpaConfigurationReader.DriverNone,
            },
        };
    }
}

/// <summary>The differences between a configuration and the host: a pure function of both, so Compare and Sync agree and tests need no kernel.</summary>
internal static class VdpaConfigurationDiff
{
    /// <param name="macSettable">Whether this kernel changes a live device's MAC (DEV_ATTR_SET, 6.12); if not, a MAC difference needs a recreation.</param>
    public static IReadOnlyList<VdpaConfigurationDifference> Compute(VdpaConfiguration desired, IReadOnlyList<VdpaDeviceState> host, bool macSettable)
    {
        var byName = host.ToDictionary(s => s.Definition.Name, StringComparer.Ordinal);
        var named = new HashSet<string>(StringComparer.Ordinal);
        var differences = new List<VdpaConfigurationDifference>();
        foreach (var wanted in desired.Devices)
        {
            named.Add(wanted.Name);
            if (!byName.TryGetValue(wanted.Name, out var state))
            {
                differences.Add(new() { Name = wanted.Name, Change = VdpaConfigurationChange.Create, Definition = wanted, Desired = Summarize(wanted) });
                continue;
            }

            differences.AddRange(CompareDevice(wanted, state, macSettable));
        }

        foreach (var state in host.Where(s => !named.Contains(s.Definition.Name)))
        {
            differences.Add(new()
            {
                Name = state.Definition.Name,
                Change = VdpaConfigurationChange.NotInFile,
                Current = state.Definition,
                Actual = Summarize(state.Definition),
            });
        }

        return differences;
    }

    /// <summary>
    /// The physical functions' differences: a PF the host lacks, its VF count, its VFs' driver (each VF bound to the
    /// file's vfDriver). PFs the file does not name are not managed.
    /// </summary>
    public static IReadOnlyList<VdpaConfigurationDifference> ComparePhysicalFunctions(VdpaConfiguration desired, IReadOnlyList<VdpaPhysicalFunction> host)
    {
        var differences = new List<VdpaConfigurationDifference>();
        foreach (var wanted in desired.PhysicalFunctions ?? [])
        {
            VdpaConfigurationDifference Difference(string attribute, string? desiredValue, string? actualValue) =>
                new() { Name = wanted.PciAddress, Change = VdpaConfigurationChange.PhysicalFunction, Attribute = attribute, Desired = desiredValue, Actual = actualValue ?? "none", PhysicalFunction = wanted };

            var pf = host.FirstOrDefault(p => p.PciAddress == wanted.PciAddress);
            if (pf is null)
            {
                differences.Add(Difference("address", wanted.PciAddress, "no such physical function"));
                continue;
            }

            if (pf.VfCount != wanted.VfCount)
            {
                differences.Add(Difference("vfCount", Text(wanted.VfCount), Text(pf.VfCount)));
            }
            else if (wanted.VfDriver is { } driver && wanted.VfCount > 0 && pf.VirtualFunctions.Any(v => !SameDriver(v.Driver, driver)))
            {
                differences.Add(Difference("vfDriver", driver, string.Join(", ", pf.VirtualFunctions.Select(v => v.Driver ?? "none").Distinct())));
            }
        }

        return differences;
    }

    /// <summary>A PCI driver as the file names it, or its module's name (vp_vdpa for vp-vdpa).</summary>
    private static bool SameDriver(string? bound, string named) => bound is not null && bound.Replace('_', '-') == named.Replace('_', '-');

    /// <summary>The host's PFs that have VFs, as a file would give them: the VFs' driver when they all have the same.</summary>
    public static IReadOnlyList<VdpaPhysicalFunctionDefinition> ExportPhysicalFunctions(IEnumerable<VdpaPhysicalFunction> host) =>
        [.. host.Where(p => p.VfCount > 0).Select(p => new VdpaPhysicalFunctionDefinition
        {
            PciAddress = p.PciAddress,
            VfCount = p.VfCount,
            VfDriver = p.VirtualFunctions.Select(v => v.Driver).Distinct().ToList() is [{ } only] ? only : null,
        })];

    /// <summary>One device's differences: those needing a recreation first, then the MAC, then the driver.</summary>
    public static IEnumerable<VdpaConfigurationDifference> CompareDevice(VdpaDeviceDefinition wanted, VdpaDeviceState state, bool macSettable)
    {
        var actual = state.Definition;
        VdpaConfigurationDifference Difference(VdpaConfigurationChange change, string attribute, string? desiredValue, string? actualValue) =>
            new() { Name = wanted.Name, Change = change, Attribute = attribute, Desired = desiredValue, Actual = actualValue ?? "none", Definition = wanted, Current = actual };

        var list = new List<VdpaConfigurationDifference>();
        if (!VdpaParentName.Matches(wanted.Parent, actual.Parent))
        {
            list.Add(Difference(VdpaConfigurationChange.Recreate, "parent", wanted.Parent, actual.Parent));
        }

        if (wanted.Mtu is { } mtu && actual.Mtu != mtu)
        {
            list.Add(Difference(VdpaConfigurationChange.Recreate, "mtu", Text(mtu), Text(actual.Mtu)));
        }

        var actualPairs = state.Type == VirtioDeviceClass.Net ? VdpaDecoder.NetQueuePairs((ushort?)actual.MaxQueuePairs) : actual.MaxQueuePairs;
        if (wanted.MaxQueuePairs is { } pairs && actualPairs != pairs)
        {
            list.Add(Difference(VdpaConfigurationChange.Recreate, "maxQueuePairs", Text(pairs), Text(actualPairs)));
        }

        // Features are compared as bits (names have aliases); where the kernel does not report them nothing can be said.
        if (wanted.Features is { } names && state.FeatureMask is { } offered)
        {
            ulong? mask;
            try
            {
                mask = VirtioFeatures.ParseMask(names, state.Type);
            }
            catch (ArgumentException)
            {
                mask = null; // a name of another device class: it cannot match this device
            }

            if (mask != offered)
            {
                list.Add(Difference(VdpaConfigurationChange.Recreate, "features", string.Join(", ", names), string.Join(", ", VirtioFeatures.GetNames(offered, state.Type))));
            }
        }

        if (wanted.MacAddress is { } mac && !string.Equals(Normalize(mac), actual.MacAddress is null ? null : Normalize(actual.MacAddress), StringComparison.Ordinal))
        {
            list.Add(Difference(macSettable ? VdpaConfigurationChange.MacAddress : VdpaConfigurationChange.Recreate, "mac", Normalize(mac), actual.MacAddress));
        }

        if (wanted.Driver is { } driver && !string.Equals(driver, actual.Driver ?? VdpaConfigurationReader.DriverNone, StringComparison.Ordinal))
        {
            list.Add(Difference(VdpaConfigurationChange.Driver, "driver", driver, actual.Driver ?? VdpaConfigurationReader.DriverNone));
        }

        return list.OrderBy(d => d.Change == VdpaConfigurationChange.Recreate ? 0 : 1);
    }

    /// <summary>A one-line description of a device definition (for Create and NotInFile rows).</summary>
    public static string Summarize(VdpaDeviceDefinition d)
    {
        var parts = new List<string> { $"on {d.Parent}" };
        if (d.MacAddress is not null)
        {
            parts.Add($"mac {d.MacAddress}");
        }

        if (d.Mtu is { } mtu)
        {
            parts.Add($"mtu {Text(mtu)}");
        }

        if (d.MaxQueuePairs is { } pairs)
        {
            parts.Add($"{Text(pairs)} queue pairs");
        }

        if (d.Driver is not null)
        {
            parts.Add(d.Driver);
        }

        return string.Join(", ", parts);
    }

    private static string Normalize(string mac) => VdpaText.ParseMacAddress(mac, out _) is { } bytes ? VdpaText.FormatMacAddress(bytes) : mac.ToLowerInvariant();

    private static string? Text(int? value) => value?.ToString(CultureInfo.InvariantCulture);
}

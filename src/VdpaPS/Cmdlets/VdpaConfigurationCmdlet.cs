using System.Management.Automation;
using VdpaPS.Errors;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Cmdlets;

/// <summary>What Export, Compare and Sync-VdpaConfiguration share: reading the file, and the host as the file would describe it.</summary>
public abstract class VdpaConfigurationCmdlet : VdpaCmdlet
{
    /// <summary>
    /// The file, validated. A file with problems ends the command before any device is touched: each problem is its own
    /// error (file, property path, line), the last one terminating.
    /// </summary>
    /// <param name="check">Whether the file must be the caller's or root's alone (Sync: it changes devices through the file).</param>
    private protected VdpaConfiguration ReadConfiguration(string file, bool check = false)
    {
        WriteVerbose($"Reading the configuration file {file}.");
        try
        {
            return VdpaConfigurationReader.ReadFile(file, check);
        }
        catch (VdpaConfigurationNotSecureException e)
        {
            ThrowTerminatingError(VdpaErrors.ConfigurationNotSecure(file, e.Found));
            throw; // not reached
        }
        catch (VdpaConfigurationException e)
        {
            for (var i = 0; i < e.Problems.Count - 1; i++)
            {
                WriteError(VdpaErrors.FromConfigurationProblem(e.Problems[i]));
            }

            ThrowTerminatingError(VdpaErrors.FromConfigurationProblem(e.Problems[^1]));
            throw; // not reached
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(VdpaErrors.ConfigurationFileMissing(file, e));
            throw; // not reached
        }
    }

    /// <summary>Every device of the host as a file would describe it; a failed dump ends the command (nothing could be compared).</summary>
    private protected IReadOnlyList<VdpaDeviceState> ReadHost() =>
        DumpOrStop($"Reading the host's vDPA devices (DEV_GET and DEV_CONFIG_GET dumps, drivers from sysfs).",
            c => VdpaDeviceState.ReadHost(c, VdpaSysfs.Default), VdpaTargetKind.Device);

    /// <summary>The differences of the file's physical functions (before the devices'): read from sysfs, as Get-VdpaPhysicalFunction does.</summary>
    private protected IReadOnlyList<VdpaConfigurationDifference> ComparePhysicalFunctions(VdpaConfiguration configuration) =>
        configuration.PhysicalFunctions is { Count: > 0 }
            ? VdpaConfigurationDiff.ComparePhysicalFunctions(configuration, VdpaSriov.Default.GetPhysicalFunctions())
            : [];

    /// <summary>Whether this kernel changes a live device's MAC address (DEV_ATTR_SET, 6.12); if not, a MAC difference needs a recreation.</summary>
    private protected bool MacSettable => Client.Capabilities.Supports(VdpaCapability.SetAttributes);

    private protected string ResolveFilePath(string path) => GetUnresolvedProviderPathFromPSPath(path);
}

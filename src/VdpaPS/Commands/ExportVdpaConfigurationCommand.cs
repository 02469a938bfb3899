using System.Management.Automation;
using VdpaPS.Cmdlets;
using VdpaPS.Completion;
using VdpaPS.Errors;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Commands;

/// <summary>The host's vDPA devices as they are, in the configuration file format: written to a file, or emitted as objects.</summary>
[Cmdlet(VerbsData.Export, "VdpaConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VdpaDeviceDefinition), typeof(VdpaPhysicalFunctionDefinition))]
public sealed class ExportVdpaConfigurationCommand : VdpaConfigurationCmdlet
{
    /// <summary>The file to write: replaced whole (a new file renamed over it), never written through a symlink. Without it the devices are emitted as objects.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Only these devices; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(DeviceNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void EndProcessing()
    {
        // Only what each device's parent lets a create set is written (vp_vdpa: features, not the function's own MAC), so
        // Sync-VdpaConfiguration of this file brings every device back.
        var devices = SelectByName(ReadHost(), s => s.Definition.Name, Name, VdpaTargetKind.Device)
            .Select(s => VdpaProvisioning.Restorable(s.Definition, VdpaSysfs.Default.GetParentKind(s.Device.Parent))).ToList();
        // The PFs whose VFs are there, so a file brings back the VF parents its devices sit on (not with -Name: only those devices).
        var pfs = Name is null ? VdpaConfigurationDiff.ExportPhysicalFunctions(VdpaSriov.Default.GetPhysicalFunctions()) : [];
        if (Path is null)
        {
            WriteObject(pfs, enumerateCollection: true);
            WriteObject(devices, enumerateCollection: true);
            return;
        }

        var file = ResolveFilePath(Path);
        if (!ShouldProcess(file, $"Write the configuration of {devices.Count} vDPA device(s){(pfs.Count > 0 ? $" and {pfs.Count} physical function(s)" : string.Empty)}"))
        {
            return;
        }

        try
        {
            VdpaConfigurationWriter.WriteFile(file, VdpaConfigurationWriter.Serialize(new VdpaConfiguration { PhysicalFunctions = pfs.Count > 0 ? pfs : null, Devices = devices }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(VdpaErrors.ConfigurationNotWritten(file, e));
        }
    }
}

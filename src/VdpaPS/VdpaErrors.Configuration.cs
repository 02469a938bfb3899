using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

internal static partial class VdpaErrors
{
    public const string ConfigurationInvalidJson = "VdpaConfigurationInvalidJson";
    public const string ConfigurationSchemaViolation = "VdpaConfigurationSchemaViolation";
    public const string ConfigurationUnknownProperty = "VdpaConfigurationUnknownProperty";
    public const string ConfigurationUnknownDriver = "VdpaConfigurationUnknownDriver";
    public const string ConfigurationUnknownFeature = "VdpaConfigurationUnknownFeature";
    public const string ConfigurationInvalidMacAddress = "VdpaConfigurationInvalidMacAddress";
    public const string ConfigurationDuplicateDevice = "VdpaConfigurationDuplicateDevice";
    public const string ConfigurationFileNotFound = "VdpaConfigurationFileNotFound";
    public const string ConfigurationFileNotSecure = "VdpaConfigurationFileNotSecure";
    public const string DeviceNeedsRecreate = "VdpaDeviceNeedsRecreate";
    public const string ParentNotPresent = "VdpaParentNotPresent";

    /// <summary>One problem of a configuration file: the file and the location are in the message and in the target.</summary>
    public static ErrorRecord FromConfigurationProblem(VdpaConfigurationProblem problem)
    {
        var id = problem.Kind switch
        {
            VdpaConfigurationProblemKind.InvalidJson => ConfigurationInvalidJson,
            VdpaConfigurationProblemKind.UnknownProperty => ConfigurationUnknownProperty,
            VdpaConfigurationProblemKind.UnknownDriver => ConfigurationUnknownDriver,
            VdpaConfigurationProblemKind.UnknownFeature => ConfigurationUnknownFeature,
            VdpaConfigurationProblemKind.InvalidMacAddress => ConfigurationInvalidMacAddress,
            VdpaConfigurationProblemKind.DuplicateDeviceName => ConfigurationDuplicateDevice,
            _ => ConfigurationSchemaViolation,
        };
        return new ErrorRecord(new FormatException($"{problem.Message} Nothing was changed."), id, ErrorCategory.ParserError, problem)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Fix the file; docs/vdpa-configuration.schema.json describes the format, Export-VdpaConfiguration writes a valid one.",
            },
        };
    }

    public static ErrorRecord ConfigurationFileMissing(string path, Exception e) =>
        new(new FileNotFoundException($"The configuration file {path} cannot be read: {e.Message} Nothing was changed.", path, e),
            ConfigurationFileNotFound, ErrorCategory.ObjectNotFound, path);

    /// <summary>As root, a file another user could write would let that user create and bind devices: refused, as sshd refuses loose key files.</summary>
    public static ErrorRecord ConfigurationNotSecure(string file, VdpaUnsafePath found) =>
        new(new UnauthorizedAccessException(
                $"The configuration file {file} is refused: {found.Path}: {found.Reason}. Run as root, Sync-VdpaConfiguration uses only a file " +
                "that no other user can write (nor any folder above it), since that user could create and bind devices through it. Nothing was changed."),
            ConfigurationFileNotSecure, ErrorCategory.SecurityError, file)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = $"Make it root's alone: chown root:root '{found.Path}'; chmod go-w '{found.Path}'.",
            },
        };

    /// <summary>A device whose unchangeable attributes differ, without -Force.</summary>
    public static ErrorRecord NeedsRecreate(string device, IEnumerable<VdpaConfigurationDifference> differences) =>
        new(new InvalidOperationException(
                $"vDPA device '{device}' differs from the file in what the kernel cannot change on a live device " +
                $"({string.Join("; ", differences.Select(d => $"{d.Attribute}: the file has {d.Desired}, the device {d.Actual}"))}): it was left as it is."),
            DeviceNeedsRecreate, ErrorCategory.ResourceExists, device)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Run Sync-VdpaConfiguration with -Force to remove and recreate it (whatever uses it loses it), or change the file.",
            },
        };

    public static ErrorRecord ParentAbsent(string parent, string device, int waitedSec) =>
        new(new ItemNotFoundException(
                $"vDPA device '{device}' was not created: its parent '{parent}' is not present" +
                (waitedSec > 0 ? $" (waited {waitedSec} s)." : ".")),
            ParentNotPresent, ErrorCategory.ObjectNotFound, device)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Load the parent's driver (modprobe), or give -WaitForParentSec for parents that appear late at boot; Get-VdpaParent lists the parents.",
            },
        };
}

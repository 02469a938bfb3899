using System.Management.Automation;
using VdpaPS.Netlink.Configuration;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string ConfigurationInvalidJson = "VdpaConfigurationInvalidJson";
    public const string ConfigurationSchemaViolation = "VdpaConfigurationSchemaViolation";
    public const string ConfigurationUnknownProperty = "VdpaConfigurationUnknownProperty";
    public const string ConfigurationUnknownDriver = "VdpaConfigurationUnknownDriver";
    public const string ConfigurationUnknownFeature = "VdpaConfigurationUnknownFeature";
    public const string ConfigurationInvalidMacAddress = "VdpaConfigurationInvalidMacAddress";
    public const string ConfigurationDuplicateDevice = "VdpaConfigurationDuplicateDevice";
    public const string ConfigurationDuplicateProperty = "VdpaConfigurationDuplicateProperty";
    public const string ConfigurationFileNotFound = "VdpaConfigurationFileNotFound";
    public const string ConfigurationFileNotSecure = "VdpaConfigurationFileNotSecure";
    public const string DeviceNeedsRecreate = "VdpaDeviceNeedsRecreate";
    public const string ParentNotPresent = "VdpaParentNotPresent";
    public const string RecreateNotPossible = "VdpaDeviceRecreateNotPossible";
    public const string DeviceRecreateFailed = "VdpaDeviceRecreateFailed";

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
            VdpaConfigurationProblemKind.DuplicateProperty => ConfigurationDuplicateProperty,
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

    /// <summary>A file another user could write would let that user create and bind devices through the caller: refused, as sshd refuses loose key files.</summary>
    public static ErrorRecord ConfigurationNotSecure(string file, VdpaUnsafePath found) =>
        new(new UnauthorizedAccessException(
                $"The configuration file {file} is refused: {found.Path}: {found.Reason}. A caller that can change devices (root, or CAP_NET_ADMIN) " +
                "uses only a file that no other user can write (nor any folder above its real path), since that user could create and bind devices " +
                "through it. Nothing was changed."),
            ConfigurationFileNotSecure, ErrorCategory.SecurityError, file)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = $"Make it root's (or your own) alone: chown root:root '{found.Path}'; chmod go-w '{found.Path}'.",
            },
        };

    /// <summary>A device whose unchangeable attributes differ, without -Force.</summary>
    /// <remarks>InvalidOperation: the change cannot be made to the device as it is (ResourceExists would say a name is taken).</remarks>
    public static ErrorRecord NeedsRecreate(string device, IEnumerable<VdpaConfigurationDifference> differences) =>
        new(new InvalidOperationException(
                $"vDPA device '{device}' differs from the file in what the kernel cannot change on a live device " +
                $"({string.Join("; ", differences.Select(d => $"{d.Attribute}: the file has {d.Desired}, the device {d.Actual}"))}): it was left as it is."),
            DeviceNeedsRecreate, ErrorCategory.InvalidOperation, device)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Run Sync-VdpaConfiguration with -Force to remove and recreate it (whatever uses it loses it), or change the file.",
            },
        };

    /// <summary>-Force's new form of a device that its parent would refuse: the device is left as it is.</summary>
    public static ErrorRecord RecreateRefused(string device, string change, IEnumerable<string> problems) =>
        new(new InvalidOperationException(
                $"vDPA device '{device}' was not recreated ({change}): {string.Join("; ", problems)}. It was left as it is."),
            RecreateNotPossible, ErrorCategory.InvalidArgument, device)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Change the file to what the parent offers (Get-VdpaParent shows its features and MaxQueues), or leave the device as it is.",
            },
        };

    /// <summary>-Force removed a device and its parent refused the new form: the device was created again as it was (or could not be).</summary>
    public static ErrorRecord RecreateFailed(string device, string change, string former, bool restored) =>
        new(new InvalidOperationException(
                $"vDPA device '{device}' could not be created in its new form ({change}); the error before this one says why. " +
                (restored
                    ? $"It was created again as it was ({former})."
                    : $"Creating it again as it was ({former}) failed too (the error before this one): the device is gone.")),
            DeviceRecreateFailed, restored ? ErrorCategory.InvalidArgument : ErrorCategory.ResourceUnavailable, device)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = restored
                    ? "Change the file to what the parent accepts, or leave the device as it is."
                    : $"Create it by hand: New-VdpaDevice -Name {device} with the values above.",
            },
        };

    public static ErrorRecord ConfigurationNotWritten(string file, Exception e) =>
        new(e, ConfigurationWriteFailed, ErrorCategory.WriteError, file);

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

using System.Management.Automation;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string ParentClassMismatch = "VdpaParentClassMismatch";
    public const string DeviceClassAmbiguous = "VdpaDeviceClassAmbiguous";
    public const string ParentFeaturesUnknown = "VdpaParentFeaturesUnknown";
    public const string TwinNotPossibleId = "VdpaTwinNotPossible";
    public const string TwinSourceIncompleteId = "VdpaTwinSourceIncomplete";
    public const string TwinDiffersId = "VdpaTwinDiffers";

    /// <summary>Parents that have no common feature set: a refusal of the input, decided before any kernel is asked.</summary>
    public static ErrorRecord FromCommonFeatures(VdpaCommonFeatureException e, ErrorTarget target)
    {
        var (id, category) = e.Failure switch
        {
            VdpaCommonFeatureFailure.MixedClasses => (ParentClassMismatch, ErrorCategory.InvalidArgument),
            VdpaCommonFeatureFailure.AmbiguousClass => (DeviceClassAmbiguous, ErrorCategory.InvalidArgument),
            _ => (ParentFeaturesUnknown, ErrorCategory.InvalidData),
        };
        return new ErrorRecord(e, id, category, target.Value);
    }

    /// <summary>
    /// A twin refused before DEV_NEW: the parent cannot make the device the source is. InvalidOperation: the request is
    /// well formed, the destination cannot serve it; the exception's Reasons name each reason, the target is the check.
    /// </summary>
    public static ErrorRecord TwinNotPossible(VdpaMigrationCheck check) =>
        new(new VdpaMigrationException(VdpaTwin.Describe(check), check.Reasons), TwinNotPossibleId, ErrorCategory.InvalidOperation, check)
        {
            ErrorDetails = new ErrorDetails(string.Empty)
            {
                RecommendedAction = "Choose another parent (Test-VdpaMigration lists which can make the twin), or free what is taken.",
            },
        };

    /// <summary>A source device read on another host without its configuration: its features, MAC and MTU cannot be read from here.</summary>
    public static ErrorRecord TwinSourceIncomplete(string name, string? computerName) =>
        new(new InvalidOperationException(
                $"Device '{name}'{(computerName is null ? string.Empty : $" from {computerName}")} carries no configuration (its offered features, MAC, MTU and " +
                "queue pairs), and it is not on this host to be read here. Pipe its configuration instead: " +
                $"Invoke-Command -Session $s {{ Get-VdpaDeviceConfig '{name}' }}."),
            TwinSourceIncompleteId, ErrorCategory.InvalidData, name);

    /// <summary>The twin was made, but what it offers, read back, is not its source's: the request was taken and its result is not what was asked.</summary>
    public static ErrorRecord TwinDiffers(string name, string source, IReadOnlyList<string> differences) =>
        new(new InvalidOperationException($"vDPA device '{name}' was created, but it is not the twin of {source}: {string.Join("; ", differences)}."),
            TwinDiffersId, ErrorCategory.InvalidResult, name);
}

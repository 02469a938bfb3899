using System.Management.Automation;

namespace VdpaPS.Errors;

internal static partial class VdpaErrors
{
    public const string ParentClassMismatch = "VdpaParentClassMismatch";
    public const string DeviceClassAmbiguous = "VdpaDeviceClassAmbiguous";
    public const string ParentFeaturesUnknown = "VdpaParentFeaturesUnknown";

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
}

using System.Management.Automation;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

/// <summary>The one mapping from kernel and input errors to ErrorRecords: stable ids, categories, the kernel's text kept.</summary>
internal static partial class VdpaErrors
{
    public const string ModuleNotLoaded = "VdpaModuleNotLoaded";
    public const string KernelWithoutVdpa = "VdpaNotInKernel";
    public const string FamilyNotVisible = "VdpaFamilyNotVisible";
    public const string NotSupportedByKernel = "VdpaNotSupportedByKernel";
    public const string DeviceNotFound = "VdpaDeviceNotFound";
    public const string ParentNotFound = "VdpaParentNotFound";
    public const string DeviceExists = "VdpaDeviceExists";
    public const string PermissionDenied = "VdpaPermissionDenied";
    public const string DeviceBusy = "VdpaDeviceBusy";
    public const string InvalidArgument = "VdpaInvalidArgument";
    public const string ValueOutOfRange = "VdpaValueOutOfRange";
    public const string NotSupported = "VdpaOperationNotSupported";
    public const string AttributeNotSupported = "VdpaAttributeNotSupported";
    public const string MissingFeatures = "VdpaMissingFeatures";
    public const string FeatureNegotiationIncomplete = "VdpaFeatureNegotiationIncomplete";
    public const string QueueIndexOutOfRange = "VdpaQueueIndexOutOfRange";
    public const string ResourceUnavailable = "VdpaResourceUnavailable";
    public const string RequestTimedOut = "VdpaRequestTimedOut";
    public const string ParentFull = "VdpaParentFull";
    public const string ProtocolError = "VdpaProtocolError";
    public const string KernelError = "VdpaKernelError";
    public const string InvalidName = "InvalidVdpaDeviceName";
    public const string InvalidParentName = "InvalidVdpaParentName";
    public const string InvalidMacAddress = "InvalidMacAddress";
    public const string UnknownFeature = "UnknownVirtioFeature";
    public const string AttributeNotApplied = "VdpaAttributeNotApplied";
    public const string ConfigurationWriteFailed = "VdpaConfigurationWriteFailed";

    /// <summary>The vdpa family is missing: which case it is decides the advice (modprobe helps only one of them).</summary>
    public static ErrorRecord FamilyMissing(FamilyNotFoundException e, VdpaAbsenceDiagnosis diagnosis)
    {
        var kernel = $"nlctrl answered {e.ErrnoDescription} for the 'vdpa' generic netlink family";
        var (id, category, message, action) = diagnosis.Reason switch
        {
            VdpaAbsence.NotBuilt => (KernelWithoutVdpa, ErrorCategory.NotInstalled,
                $"This kernel was built without vDPA ({diagnosis.Evidence}): {kernel}, and no module can be loaded for it. " +
                "vDPA needs a kernel built with CONFIG_VDPA and a parent driver (mlx5_vdpa, vp_vdpa, vdpa_sim_net, vduse...).",
                "Boot a kernel built with CONFIG_VDPA (check /boot/config-$(uname -r) or /lib/modules/$(uname -r)/modules.dep for vdpa)."),
            VdpaAbsence.NotVisible => (FamilyNotVisible, ErrorCategory.PermissionDenied,
                $"This kernel has vDPA, but this process cannot ask for it ({diagnosis.Evidence}): {kernel}. " +
                "The vdpa family answers only in the initial network namespace.",
                "Run the command on the host (the initial network namespace), not inside a container's namespace."),
            VdpaAbsence.NotLoaded => (ModuleNotLoaded, ErrorCategory.NotInstalled,
                $"The kernel's vDPA support is not loaded ({diagnosis.Evidence}): {kernel}. " +
                "Load it with 'modprobe vdpa' (and a parent driver such as vdpa_sim_net, mlx5_vdpa, vp_vdpa or vduse).",
                "Run 'modprobe vdpa' as root, then run the command again."),
            _ => (ModuleNotLoaded, ErrorCategory.NotInstalled,
                $"The kernel's vDPA support is not loaded: {kernel} ({diagnosis.Evidence}). " +
                "Load it with 'modprobe vdpa'; if there is no such module, this kernel was built without vDPA. " +
                "The family is visible only in the initial network namespace, so run outside containers' namespaces.",
                "Run 'modprobe vdpa' as root, then run the command again."),
        };
        return new ErrorRecord(new InvalidOperationException(message, e), id, category, null)
        {
            ErrorDetails = new ErrorDetails(string.Empty) { RecommendedAction = action },
        };
    }

    /// <summary>
    /// Maps a refusal by the kernel through the core's <see cref="VdpaErrorMap"/>: the exception is the user's message
    /// (errno, extended ack and operation still on it), the kernel's own exception its InnerException.
    /// </summary>
    /// <param name="target">What the request was about (<see cref="ErrorTarget"/>: the record shows only public types).</param>
    /// <param name="parent">The parent the request was about, where the cmdlet knows it: its limits explain a refusal.</param>
    public static ErrorRecord FromNetlink(NetlinkException e, ErrorTarget target, VdpaTargetKind kind, VdpaParent? parent = null)
    {
        if (e is FamilyNotFoundException missing)
        {
            return FamilyMissing(missing, new VdpaKernelSupport().Diagnose());
        }

        var explained = VdpaErrorMap.Explain(e, target.Subject, kind, parent);
        var (id, category) = IdOf(explained.Kind);
        return new ErrorRecord(explained, id, category, target.Value)
        {
            ErrorDetails = new ErrorDetails(explained.Message) { RecommendedAction = explained.RecommendedAction },
        };
    }

    /// <summary>The stable error id and category of each kind the core tells apart.</summary>
    public static (string Id, ErrorCategory Category) IdOf(VdpaErrorKind kind) => kind switch
    {
        VdpaErrorKind.ProtocolError => (ProtocolError, ErrorCategory.ProtocolError),
        VdpaErrorKind.NotSupportedByKernel => (NotSupportedByKernel, ErrorCategory.NotImplemented),
        VdpaErrorKind.PermissionDenied => (PermissionDenied, ErrorCategory.PermissionDenied),
        VdpaErrorKind.DeviceNotFound => (DeviceNotFound, ErrorCategory.ObjectNotFound),
        VdpaErrorKind.ParentNotFound => (ParentNotFound, ErrorCategory.ObjectNotFound),
        VdpaErrorKind.DeviceExists => (DeviceExists, ErrorCategory.ResourceExists),
        VdpaErrorKind.DeviceBusy => (DeviceBusy, ErrorCategory.ResourceBusy),
        VdpaErrorKind.InvalidArgument => (InvalidArgument, ErrorCategory.InvalidArgument),
        VdpaErrorKind.ValueOutOfRange => (ValueOutOfRange, ErrorCategory.InvalidArgument),
        VdpaErrorKind.QueueIndexOutOfRange => (QueueIndexOutOfRange, ErrorCategory.InvalidArgument),
        VdpaErrorKind.MissingFeatures => (MissingFeatures, ErrorCategory.InvalidArgument),
        VdpaErrorKind.AttributeNotSupported => (AttributeNotSupported, ErrorCategory.NotImplemented),
        VdpaErrorKind.AttributeNotApplied => (AttributeNotApplied, ErrorCategory.InvalidResult),
        VdpaErrorKind.NotSupported => (NotSupported, ErrorCategory.NotImplemented),
        VdpaErrorKind.FeatureNegotiationIncomplete => (FeatureNegotiationIncomplete, ErrorCategory.ResourceUnavailable),
        VdpaErrorKind.ResourceUnavailable => (ResourceUnavailable, ErrorCategory.ResourceUnavailable),
        VdpaErrorKind.TimedOut => (RequestTimedOut, ErrorCategory.OperationTimeout),
        VdpaErrorKind.ParentFull => (ParentFull, ErrorCategory.LimitsExceeded),
        _ => (KernelError, ErrorCategory.NotSpecified),
    };

    /// <summary>The cmdlet parameter that sends a DEV_NEW attribute (from the core's provisioning table).</summary>
    public static string ParameterOf(int attribute) => VdpaProvisioning.ParameterOf(attribute);

    /// <summary>Input refused before anything reached the kernel.</summary>
    public static ErrorRecord InvalidInput(string id, string message, ErrorTarget target) =>
        new(new ArgumentException(message), id, ErrorCategory.InvalidArgument, target.Value);

    public static ErrorRecord NotFound(VdpaTargetKind kind, string name)
    {
        var what = kind == VdpaTargetKind.Parent ? "vDPA parent (management device)" : "vDPA device";
        return new ErrorRecord(
            new ItemNotFoundException($"No {what} named '{name}' was found."),
            kind == VdpaTargetKind.Parent ? ParentNotFound : DeviceNotFound,
            ErrorCategory.ObjectNotFound,
            name);
    }

    /// <summary>The kernel took the request but the device does not show what was asked (older kernels drop attributes they do not know).</summary>
    /// <remarks>InvalidResult: the request was taken, and what came of it is not what was asked (NotImplemented would say it was refused).</remarks>
    public static ErrorRecord NotApplied(string message, ErrorTarget target) =>
        new(new InvalidOperationException(message), AttributeNotApplied, ErrorCategory.InvalidResult, target.Value);

    /// <summary>The parent's driver takes one device and does not refuse a second: refused here, before DEV_NEW.</summary>
    public static ErrorRecord SecondDeviceRefused(string parent, string existing, string driver, ErrorTarget target) =>
        new(new InvalidOperationException(
                $"Parent '{parent}' already has vDPA device '{existing}', and its driver ({driver}) keeps one device per parent: " +
                "the kernel would accept a second DEV_NEW, corrupt the parent, and removing a device then can crash the kernel. " +
                "Nothing was sent."),
            ParentFull, ErrorCategory.LimitsExceeded, target.Value)
        {
            ErrorDetails = new ErrorDetails(string.Empty) { RecommendedAction = $"Remove '{existing}' first, or use another parent." },
        };

    /// <summary>A dump the kernel ended early, named by the devices it left out.</summary>
    public static string DumpIncompleteWarning(string command, IReadOnlyList<string> missing) =>
        $"The kernel ended the {command} dump early: it left out {string.Join(", ", missing.Select(m => $"'{m}'"))}, which the device " +
        "dump lists (Linux 6.1 stops at the first block device). Asking for each of them instead.";
}

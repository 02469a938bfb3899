using System.Management.Automation;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS;

/// <summary>What a name in an error refers to: decides the not-found error id.</summary>
public enum VdpaTargetKind
{
    Device,
    Parent,
    Queue,
}

/// <summary>The one mapping from kernel and input errors to ErrorRecords: stable ids, categories, the kernel's text kept.</summary>
public static class VdpaErrors
{
    public const string FamilyNotFound = "VdpaModuleNotLoaded";
    public const string DeviceNotFound = "VdpaDeviceNotFound";
    public const string ParentNotFound = "VdpaParentNotFound";
    public const string DeviceExists = "VdpaDeviceExists";
    public const string PermissionDenied = "VdpaPermissionDenied";
    public const string DeviceBusy = "VdpaDeviceBusy";
    public const string InvalidArgument = "VdpaInvalidArgument";
    public const string ValueOutOfRange = "VdpaValueOutOfRange";
    public const string NotSupported = "VdpaOperationNotSupported";
    public const string AttributeNotSupported = "VdpaAttributeNotSupported";
    public const string FeatureNegotiationIncomplete = "VdpaFeatureNegotiationIncomplete";
    public const string ResourceUnavailable = "VdpaResourceUnavailable";
    public const string NoSpace = "VdpaParentFull";
    public const string ProtocolError = "VdpaProtocolError";
    public const string KernelError = "VdpaKernelError";
    public const string InvalidName = "InvalidVdpaDeviceName";
    public const string InvalidParentName = "InvalidVdpaParentName";
    public const string InvalidMacAddress = "InvalidMacAddress";
    public const string InvalidMtu = "InvalidMtu";
    public const string InvalidQueuePairs = "InvalidMaxQueuePairs";
    public const string InvalidQueueIndex = "InvalidQueueIndex";
    public const string UnknownFeature = "UnknownVirtioFeature";
    public const string WrongInputObject = "WrongVdpaInputObject";
    public const string AttributeNotApplied = "VdpaAttributeNotApplied";

    /// <summary>The vdpa family is missing: not loaded, or not visible from this network namespace.</summary>
    public static ErrorRecord FamilyMissing(FamilyNotFoundException e) => new(
        new InvalidOperationException(
            "The kernel's vDPA support is not loaded: the 'vdpa' generic netlink family is not registered. " +
            "Load it with 'modprobe vdpa' (and a management device driver such as vdpa_sim_net, mlx5_vdpa or vduse). " +
            "The family is visible only in the initial network namespace, so run outside containers' namespaces.", e),
        FamilyNotFound, ErrorCategory.NotInstalled, null)
    {
        ErrorDetails = new ErrorDetails(string.Empty) { RecommendedAction = "Run 'modprobe vdpa' as root, then run the command again." },
    };

    /// <summary>Maps a refusal by the kernel. The message keeps the kernel's extended-ack text and names the errno.</summary>
    public static ErrorRecord FromNetlink(NetlinkException e, object? target, VdpaTargetKind kind)
    {
        if (e is FamilyNotFoundException missing)
        {
            return FamilyMissing(missing);
        }

        var (id, category) = Classify(e, kind);
        var record = new ErrorRecord(e, id, category, target);
        if (e.Errno == LinuxErrno.EPERM)
        {
            record.ErrorDetails = new ErrorDetails(
                $"{e.Message} Changing vDPA devices needs CAP_NET_ADMIN in the initial user namespace: run as root or grant the capability.")
            {
                RecommendedAction = "Run the command as root, or with CAP_NET_ADMIN.",
            };
        }

        return record;
    }

    public static (string Id, ErrorCategory Category) Classify(NetlinkException e, VdpaTargetKind kind)
    {
        if (e is NetlinkProtocolException)
        {
            return (ProtocolError, ErrorCategory.ProtocolError);
        }

        return e.Errno switch
        {
            LinuxErrno.EPERM or LinuxErrno.EACCES => (PermissionDenied, ErrorCategory.PermissionDenied),
            // ENODEV on DEV_NEW and MGMTDEV_GET is about the parent; elsewhere about the device.
            LinuxErrno.ENODEV or LinuxErrno.ENOENT => (kind == VdpaTargetKind.Parent ? ParentNotFound : DeviceNotFound, ErrorCategory.ObjectNotFound),
            LinuxErrno.EEXIST => (DeviceExists, ErrorCategory.ResourceExists),
            LinuxErrno.EBUSY => (DeviceBusy, ErrorCategory.ResourceBusy),
            LinuxErrno.EINVAL => (InvalidArgument, ErrorCategory.InvalidArgument),
            LinuxErrno.ERANGE => (ValueOutOfRange, ErrorCategory.InvalidArgument),
            LinuxErrno.EOPNOTSUPP when e.ExtAckMessage?.Contains("attributes are not supported", StringComparison.Ordinal) == true
                => (AttributeNotSupported, ErrorCategory.NotImplemented),
            LinuxErrno.EOPNOTSUPP => (NotSupported, ErrorCategory.NotImplemented),
            LinuxErrno.EAGAIN when e.ExtAckMessage?.Contains("negotiation", StringComparison.Ordinal) == true
                => (FeatureNegotiationIncomplete, ErrorCategory.ResourceUnavailable),
            LinuxErrno.EAGAIN => (ResourceUnavailable, ErrorCategory.ResourceUnavailable),
            LinuxErrno.ENOSPC => (NoSpace, ErrorCategory.LimitsExceeded),
            LinuxErrno.ETIMEDOUT => (ResourceUnavailable, ErrorCategory.OperationTimeout),
            _ => (KernelError, ErrorCategory.NotSpecified),
        };
    }

    /// <summary>Input refused before anything reached the kernel.</summary>
    public static ErrorRecord InvalidInput(string id, string message, object? target) =>
        new(new ArgumentException(message), id, ErrorCategory.InvalidArgument, target);

    public static ErrorRecord NotFound(VdpaTargetKind kind, string name)
    {
        var what = kind == VdpaTargetKind.Parent ? "vDPA parent (management device)" : "vDPA device";
        return new ErrorRecord(
            new ItemNotFoundException($"No {what} named '{name}' was found."),
            kind == VdpaTargetKind.Parent ? ParentNotFound : DeviceNotFound,
            ErrorCategory.ObjectNotFound,
            name);
    }
}

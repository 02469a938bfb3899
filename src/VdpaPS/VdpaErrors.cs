using System.Globalization;
using System.Management.Automation;
using System.Text.RegularExpressions;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS;

/// <summary>One queue of a device, as the target of a statistics request.</summary>
public sealed record VdpaQueueTarget(string Device, uint Queue)
{
    public override string ToString() => $"{Device} queue {Queue}";
}

/// <summary>What a name in an error refers to: decides the not-found error id.</summary>
public enum VdpaTargetKind
{
    Device,
    Parent,
    Queue,
}

/// <summary>The one mapping from kernel and input errors to ErrorRecords: stable ids, categories, the kernel's text kept.</summary>
public static partial class VdpaErrors
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
    public const string MissingFeatures = "VdpaMissingFeatures";
    public const string FeatureNegotiationIncomplete = "VdpaFeatureNegotiationIncomplete";
    public const string QueueIndexOutOfRange = "VdpaQueueIndexOutOfRange";
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
    public const string AttributeUnknownToKernel = "VdpaAttributeUnknownToKernel";

    private static readonly string StatsOperation = VdpaClient.OperationName(VdpaCommand.DeviceVendorStatsGet);
    private static readonly string NewOperation = VdpaClient.OperationName(VdpaCommand.DeviceNew);
    private static readonly string ParentOperation = VdpaClient.OperationName(VdpaCommand.ManagementDeviceGet);
    private static readonly string ParentDumpOperation = VdpaClient.OperationName(VdpaCommand.ManagementDeviceGet, dump: true);

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

    /// <summary>
    /// Maps a refusal by the kernel. The exception stays the kernel's (errno, extended ack, operation); the
    /// displayed message says it in the user's words and quotes the kernel's text.
    /// </summary>
    /// <param name="target">What the request was about: a name, an object whose ToString is its name, or a <see cref="VdpaDeviceSpec"/>.</param>
    public static ErrorRecord FromNetlink(NetlinkException e, object? target, VdpaTargetKind kind)
    {
        if (e is FamilyNotFoundException missing)
        {
            return FamilyMissing(missing);
        }

        var (id, category) = Classify(e, kind);
        // A DEV_NEW names both the device (EEXIST) and the parent (ENODEV); a statistics request names a queue too.
        var (name, parent, queue) = target switch
        {
            VdpaDeviceSpec spec => (spec.Name, spec.Parent, (uint?)null),
            VdpaQueueTarget q => (q.Device, null, q.Queue),
            _ => (target?.ToString(), target?.ToString(), null),
        };
        var (message, action) = Describe(id, e, name, parent, queue);
        return new ErrorRecord(e, id, category, target)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = action },
        };
    }

    public static (string Id, ErrorCategory Category) Classify(NetlinkException e, VdpaTargetKind kind)
    {
        if (e is NetlinkProtocolException)
        {
            return (ProtocolError, ErrorCategory.ProtocolError);
        }

        var stats = e.Operation == StatsOperation;
        return e.Errno switch
        {
            LinuxErrno.EPERM or LinuxErrno.EACCES => (PermissionDenied, ErrorCategory.PermissionDenied),
            // ENODEV from DEV_NEW and MGMTDEV_GET is about the parent; everywhere else about the device.
            LinuxErrno.ENODEV or LinuxErrno.ENOENT when kind == VdpaTargetKind.Parent || IsParentOperation(e.Operation)
                => (ParentNotFound, ErrorCategory.ObjectNotFound),
            LinuxErrno.ENODEV or LinuxErrno.ENOENT => (DeviceNotFound, ErrorCategory.ObjectNotFound),
            LinuxErrno.EEXIST => (DeviceExists, ErrorCategory.ResourceExists),
            LinuxErrno.EBUSY => (DeviceBusy, ErrorCategory.ResourceBusy),
            // vdpa.c refuses an index above 0x8000 with ERANGE; below that the driver refuses a queue it does not
            // have with EINVAL, without a message (vdpa_sim) or "virtqueue index is not valid" (mlx5).
            LinuxErrno.ERANGE or LinuxErrno.EINVAL when stats && (e.ExtAckMessage is null || e.ExtAckMessage.Contains("index", StringComparison.OrdinalIgnoreCase))
                => (QueueIndexOutOfRange, ErrorCategory.InvalidArgument),
            LinuxErrno.EINVAL when e.ExtAckMessage?.Contains("Missing features", StringComparison.Ordinal) == true
                => (MissingFeatures, ErrorCategory.InvalidArgument),
            LinuxErrno.EINVAL => (InvalidArgument, ErrorCategory.InvalidArgument),
            LinuxErrno.ERANGE => (ValueOutOfRange, ErrorCategory.InvalidArgument),
            LinuxErrno.EOPNOTSUPP when e.ExtAckMessage?.Contains("attributes are not supported", StringComparison.Ordinal) == true
                => (AttributeNotSupported, ErrorCategory.NotImplemented),
            LinuxErrno.EOPNOTSUPP => (NotSupported, ErrorCategory.NotImplemented),
            LinuxErrno.EAGAIN when e.ExtAckMessage?.Contains("negotiation", StringComparison.OrdinalIgnoreCase) == true
                => (FeatureNegotiationIncomplete, ErrorCategory.ResourceUnavailable),
            LinuxErrno.EAGAIN => (ResourceUnavailable, ErrorCategory.ResourceUnavailable),
            LinuxErrno.ENOSPC => (NoSpace, ErrorCategory.LimitsExceeded),
            LinuxErrno.ETIMEDOUT => (ResourceUnavailable, ErrorCategory.OperationTimeout),
            _ => (KernelError, ErrorCategory.NotSpecified),
        };
    }

    private static bool IsParentOperation(string operation) =>
        operation == NewOperation || operation == ParentOperation || operation == ParentDumpOperation;

    /// <summary>The message a user reads, and what to do about it. The kernel's own words are always quoted.</summary>
    private static (string Message, string? Action) Describe(string id, NetlinkException e, string? name, string? parent, uint? queue)
    {
        var kernel = string.IsNullOrEmpty(e.ExtAckMessage)
            ? $"the kernel answered {e.ErrnoDescription}"
            : $"the kernel said \"{e.ExtAckMessage}\" ({e.ErrnoDescription})";
        var device = name is null ? "the vDPA device" : $"vDPA device '{name}'";
        return id switch
        {
            PermissionDenied => (
                $"{e.Operation} was refused: {kernel}. Changing vDPA devices, and reading their statistics, needs CAP_NET_ADMIN " +
                "in the initial user namespace.",
                "Run the command as root, or in a process that has CAP_NET_ADMIN."),
            DeviceNotFound => ($"There is no {device}: {kernel}.", "List the devices with Get-VdpaDevice."),
            ParentNotFound => (
                $"There is no parent (management device){(parent is null ? string.Empty : $" '{parent}'")}: {kernel}.",
                "List the parents with Get-VdpaParent; a parent with a bus is named bus/device (pci/0000:03:00.5)."),
            DeviceExists => ($"A vDPA device named '{name}' already exists: {kernel}.", "Choose another name, or remove the device first."),
            DeviceBusy => ($"{device} is busy: {kernel}.", null),
            QueueIndexOutOfRange => (
                $"{device} has no queue {(queue is { } q ? q.ToString(CultureInfo.InvariantCulture) : "of that index")}: {kernel}.",
                "Queue indexes run from 0 to MaxQueues - 1 (see Get-VdpaDevice); leave -QueueIndex out to read every queue."),
            AttributeNotSupported => (
                $"The parent does not accept {DescribeAttributeMask(e.ExtAckMessage)}: {kernel}.",
                "Leave those parameters out; Get-VdpaParent shows what the parent supports."),
            MissingFeatures => (
                $"-Feature lacks {DescribeFeatureMask(e.ExtAckMessage)}, which the other parameters need: {kernel}.",
                "Add those features to -Feature, or leave -Feature out."),
            FeatureNegotiationIncomplete => (
                $"{device} has no statistics yet: {kernel}. A driver has to negotiate features with the device first.",
                "Bind the device to virtio_vdpa, or start the VM that uses it through vhost_vdpa."),
            InvalidArgument when e.Operation == NewOperation && string.IsNullOrEmpty(e.ExtAckMessage) => (
                $"The parent refused to create '{name}' and gave no reason: {kernel}. A vduse parent needs the VDUSE device " +
                "of that name created first (VDUSE_CREATE_DEV on /dev/vduse/control).",
                null),
            NotSupported when e.Operation == StatsOperation => (
                $"{device} does not report queue statistics: {kernel}. Only some drivers do (vdpa_sim_net, mlx5_vdpa).",
                null),
            _ => ($"{e.Operation} failed for {device}: {kernel}.", null),
        };
    }

    /// <summary>"Some provided attributes are not supported: 0x1000" names attribute numbers as bits; say them as parameters.</summary>
    private static string DescribeAttributeMask(string? extAck)
    {
        if (ParseHexMask(extAck) is not { } mask)
        {
            return "some of the given attributes";
        }

        var names = new List<string>();
        for (var bit = 0; bit < 64; bit++)
        {
            if ((mask & (1UL << bit)) != 0)
            {
                names.Add(ParameterOf(bit));
            }
        }

        return string.Join(", ", names);
    }

    private static string DescribeFeatureMask(string? extAck) =>
        ParseHexMask(extAck) is { } mask ? string.Join(", ", VirtioFeatures.GetNames(mask, VirtioDeviceClass.Net)) : "features";

    /// <summary>The cmdlet parameter that sends a DEV_NEW attribute.</summary>
    public static string ParameterOf(int attribute) => attribute switch
    {
        VdpaAttribute.NetConfigMacAddress => "-MacAddress",
        VdpaAttribute.NetConfigMaxQueuePairs => "-MaxQueuePairs",
        VdpaAttribute.NetConfigMtu => "-Mtu",
        VdpaAttribute.DeviceFeatures => "-Feature",
        _ => VdpaAttribute.GetName(attribute),
    };

    private static ulong? ParseHexMask(string? text)
    {
        var match = text is null ? null : HexNumber().Match(text);
        return match is { Success: true } && ulong.TryParse(match.Groups[1].Value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
    }

    [GeneratedRegex("0x([0-9a-fA-F]{1,16})")]
    private static partial Regex HexNumber();

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

    /// <summary>The kernel took the request but the device does not show what was asked (older kernels drop attributes they do not know).</summary>
    public static ErrorRecord NotApplied(string message, object? target) =>
        new(new InvalidOperationException(message), AttributeNotApplied, ErrorCategory.NotImplemented, target);
}

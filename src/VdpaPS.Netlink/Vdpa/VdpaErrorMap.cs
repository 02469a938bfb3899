using System.Globalization;
using System.Text.RegularExpressions;
using VdpaPS.Netlink.Host;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>What a failed vdpa request means for the user, whatever shell shows it. The cmdlets give each kind its stable error id.</summary>
public enum VdpaErrorKind
{
    KernelError,
    ProtocolError,
    NotSupportedByKernel,
    PermissionDenied,
    DeviceNotFound,
    ParentNotFound,
    DeviceExists,
    DeviceBusy,
    InvalidArgument,
    ValueOutOfRange,
    QueueIndexOutOfRange,
    MissingFeatures,
    AttributeNotSupported,
    AttributeNotApplied,
    NotSupported,
    FeatureNegotiationIncomplete,
    ResourceUnavailable,
    TimedOut,
    ParentFull,
}

/// <summary>
/// A vdpa request that failed, said in the user's words. Errno, extended ack and request stay readable here; the
/// kernel's answer as it came is the InnerException.
/// </summary>
public sealed class VdpaException : NetlinkException
{
    internal VdpaException(VdpaErrorKind kind, string message, string? recommendedAction, NetlinkException kernel)
        : base(message, kernel)
    {
        Kind = kind;
        RecommendedAction = recommendedAction;
    }

    /// <summary>An answer that was no refusal but did not do what was asked (an acknowledgement with only a warning).</summary>
    internal VdpaException(VdpaErrorKind kind, string message, string? recommendedAction, string operation)
        : base(message, 0, operation)
    {
        Kind = kind;
        RecommendedAction = recommendedAction;
    }

    public VdpaErrorKind Kind { get; }

    /// <summary>What the user can do about it, where there is something.</summary>
    public string? RecommendedAction { get; }
}

/// <summary>
/// The one mapping from a failed vdpa request to what it means: the request's command (not its text), the errno and
/// the kernel's extended ack decide the kind; the message names the device, parent or queue the user asked about
/// and always quotes the kernel.
/// </summary>
internal static partial class VdpaErrorMap
{
    /// <summary>The kind of a refusal; <paramref name="target"/> says what the user named, where the command alone does not.</summary>
    public static VdpaErrorKind Classify(NetlinkException e, VdpaTargetKind target)
    {
        switch (e)
        {
            case VdpaException explained:
                return explained.Kind;
            case NetlinkProtocolException:
                return VdpaErrorKind.ProtocolError;
            case VdpaCapabilityException:
                return VdpaErrorKind.NotSupportedByKernel;
        }

        var command = CommandOf(e);
        var stats = command == VdpaCommand.DeviceVendorStatsGet;
        // ENODEV from DEV_NEW and MGMTDEV_GET is about the parent; everywhere else about the device.
        var aboutParent = target == VdpaTargetKind.Parent || command is VdpaCommand.DeviceNew or VdpaCommand.ManagementDeviceGet;
        return e.Errno switch
        {
            LinuxErrno.EPERM or LinuxErrno.EACCES => VdpaErrorKind.PermissionDenied,
            LinuxErrno.ENODEV or LinuxErrno.ENOENT => aboutParent ? VdpaErrorKind.ParentNotFound : VdpaErrorKind.DeviceNotFound,
            LinuxErrno.EEXIST => VdpaErrorKind.DeviceExists,
            LinuxErrno.EBUSY => VdpaErrorKind.DeviceBusy,
            // vdpa.c refuses an index above 0x8000 with ERANGE; below that the driver refuses a queue it does not
            // have with EINVAL, without a message (vdpa_sim) or "virtqueue index is not valid" (mlx5).
            LinuxErrno.ERANGE or LinuxErrno.EINVAL when stats && (e.ExtAckMessage is null || e.ExtAckMessage.Contains("index", StringComparison.OrdinalIgnoreCase))
                => VdpaErrorKind.QueueIndexOutOfRange,
            LinuxErrno.EINVAL when e.ExtAckMessage?.Contains("Missing features", StringComparison.Ordinal) == true => VdpaErrorKind.MissingFeatures,
            LinuxErrno.EINVAL => VdpaErrorKind.InvalidArgument,
            LinuxErrno.ERANGE => VdpaErrorKind.ValueOutOfRange,
            LinuxErrno.EOPNOTSUPP when e.ExtAckMessage?.Contains("attributes are not supported", StringComparison.Ordinal) == true
                => VdpaErrorKind.AttributeNotSupported,
            LinuxErrno.EOPNOTSUPP => VdpaErrorKind.NotSupported,
            LinuxErrno.EAGAIN when e.ExtAckMessage?.Contains("negotiation", StringComparison.OrdinalIgnoreCase) == true
                => VdpaErrorKind.FeatureNegotiationIncomplete,
            LinuxErrno.EAGAIN => VdpaErrorKind.ResourceUnavailable,
            LinuxErrno.ENOSPC => VdpaErrorKind.ParentFull,
            LinuxErrno.ETIMEDOUT => VdpaErrorKind.TimedOut,
            _ => VdpaErrorKind.KernelError,
        };
    }

    /// <summary>
    /// The refusal said in the user's words, as the exception a user catches; the kernel's exception is its InnerException.
    /// </summary>
    /// <param name="target">What the request was about: a name, an object whose ToString is its name, a <see cref="VdpaDeviceSpec"/> or a <see cref="VdpaQueueTarget"/>.</param>
    /// <param name="parent">The parent the request was about, where the caller knows it: its limits explain a refusal.</param>
    public static VdpaException Explain(NetlinkException e, object? target, VdpaTargetKind kind, VdpaParent? parent = null)
    {
        if (e is VdpaException explained)
        {
            return explained;
        }

        var errorKind = Classify(e, kind);
        var (message, action) = Describe(errorKind, e, new Subject(target), parent);
        return new VdpaException(errorKind, message, action, e);
    }

    /// <summary>DEV_ATTR_SET on a device it does not apply to: the kernel answers success with only a warning.</summary>
    /// <param name="change">What was to change, at the start of a sentence ("The MAC address").</param>
    public static VdpaException WarnedInsteadOfApplied(VdpaCommand command, string device, string change, string warning) =>
        new(VdpaErrorKind.AttributeNotApplied,
            $"{change} of vDPA device '{device}' was not changed: the kernel answered success with the warning \"{warning}\".",
            null, VdpaClient.OperationName(command));

    /// <summary>The command of a vdpa request; null for anything else (nlctrl, a socket call).</summary>
    private static VdpaCommand? CommandOf(NetlinkException e) =>
        e.Request is { } request && request.Family != GenericNetlinkController.FamilyId ? (VdpaCommand)request.Command : null;

    /// <summary>The names a target gives: a DEV_NEW names both the device (EEXIST) and the parent (ENODEV); a statistics request names a queue too.</summary>
    private readonly record struct Subject(string? Device, string? Parent, uint? Queue, VdpaDeviceSpec? Spec)
    {
        public Subject(object? target)
            : this(null, null, null, target as VdpaDeviceSpec)
        {
            (Device, Parent, Queue) = target switch
            {
                VdpaDeviceSpec spec => (spec.Name, spec.Parent, (uint?)null),
                VdpaQueueTarget queue => (queue.Device, null, queue.Queue),
                _ => (NameOrNull(target?.ToString()), NameOrNull(target?.ToString()), null),
            };
        }

        /// <summary>"vDPA device 'x'", or "the vDPA device" when the request named none (a dump).</summary>
        public string DevicePhrase => Device is null ? "the vDPA device" : $"vDPA device '{Device}'";

        /// <summary>The same at the start of a sentence.</summary>
        public string DeviceOpening => Device is null ? "The vDPA device" : DevicePhrase;

        private static string? NameOrNull(string? name) => string.IsNullOrEmpty(name) ? null : name;
    }

    /// <summary>The message a user reads, and what to do about it. The kernel's own words are always quoted.</summary>
    private static (string Message, string? Action) Describe(VdpaErrorKind kind, NetlinkException e, Subject subject, VdpaParent? parentInfo)
    {
        var device = subject.DevicePhrase;
        if (e is VdpaCapabilityException capability)
        {
            return ($"{(subject.Device is null ? string.Empty : $"{device}: ")}{e.Message}",
                $"Use a kernel with Linux {capability.Capability.AddedIn} or later for {capability.Capability.Description}.");
        }

        if (kind == VdpaErrorKind.ProtocolError)
        {
            return ($"The kernel's answer to {e.Operation} broke the netlink protocol: {e.Message}", null);
        }

        var kernel = string.IsNullOrEmpty(e.ExtAckMessage)
            ? $"the kernel answered {e.ErrnoDescription}"
            : $"the kernel said \"{e.ExtAckMessage}\" ({e.ErrnoDescription})";
        var command = CommandOf(e);
        var parentText = subject.Parent is null ? "The parent" : $"Parent '{subject.Parent}'";
        return kind switch
        {
            VdpaErrorKind.PermissionDenied when e is NetlinkSocketException => (
                $"This process may not open a generic netlink socket to ask the kernel: {kernel}. A security policy (seccomp, an LSM) forbids it.",
                "Run the command where netlink sockets are allowed, on the host."),
            VdpaErrorKind.PermissionDenied => (
                $"{e.Operation} was refused: {kernel}. Changing vDPA devices, and reading their statistics, needs CAP_NET_ADMIN " +
                "in the initial user namespace.",
                "Run the command as root, or in a process that has CAP_NET_ADMIN."),
            VdpaErrorKind.DeviceNotFound => (
                subject.Device is null ? $"There is no such vDPA device: {kernel}." : $"There is no {device}: {kernel}.",
                "List the devices with Get-VdpaDevice."),
            VdpaErrorKind.ParentNotFound => (
                $"There is no parent (management device){(subject.Parent is null ? string.Empty : $" '{subject.Parent}'")}: {kernel}.",
                "List the parents with Get-VdpaParent; a parent with a bus is named bus/device (pci/0000:03:00.5)."),
            VdpaErrorKind.DeviceExists => (
                subject.Device is null ? $"A vDPA device of that name already exists: {kernel}." : $"A vDPA device named '{subject.Device}' already exists: {kernel}.",
                "Choose another name, or remove the device first."),
            VdpaErrorKind.DeviceBusy => ($"{subject.DeviceOpening} is busy: {kernel}.", null),
            VdpaErrorKind.TimedOut when e is NetlinkTimeoutException timeout => (
                $"The kernel did not answer {e.Operation}{(subject.Device is null ? string.Empty : $" for {device}")} within " +
                $"{VdpaLockHolders.Seconds(timeout.Waited)}: {VdpaLockHolders.Default.Describe()}.",
                "Start or fix the daemon of that VDUSE device, or destroy it; the kernel answers once its msg_timeout has passed."),
            VdpaErrorKind.QueueIndexOutOfRange => (
                $"{subject.DeviceOpening} has no queue {(subject.Queue is { } q ? q.ToString(CultureInfo.InvariantCulture) : "of that index")}: {kernel}.",
                "Queue indexes run from 0 to MaxQueues - 1 (see Get-VdpaDevice); leave -QueueIndex out to read every queue."),
            VdpaErrorKind.AttributeNotSupported => (
                $"{parentText} does not accept {DescribeAttributeMask(e.ExtAckMessage, subject.Spec)}: {kernel}.",
                "Leave those parameters out; Get-VdpaParent shows what the parent supports."),
            VdpaErrorKind.MissingFeatures => (
                $"-Feature lacks {DescribeFeatureMask(e.ExtAckMessage)}, which the other parameters need: {kernel}.",
                "Add those features to -Feature, or leave -Feature out."),
            VdpaErrorKind.FeatureNegotiationIncomplete => (
                $"{subject.DeviceOpening} has no statistics yet: {kernel}. A driver has to negotiate features with the device first.",
                "Bind the device to virtio_vdpa, or start the VM that uses it through vhost_vdpa."),
            VdpaErrorKind.InvalidArgument when command == VdpaCommand.DeviceNew && string.IsNullOrEmpty(e.ExtAckMessage)
                => DescribeSilentRefusal(kernel, subject, parentInfo),
            VdpaErrorKind.NotSupported when command == VdpaCommand.DeviceVendorStatsGet => (
                $"{subject.DeviceOpening} does not report queue statistics: {kernel}. The driver of its parent keeps no vendor statistics for it on this " +
                "kernel (DEV_VSTATS_GET came in Linux 5.19, and answers only for parent drivers that keep them).",
                null),
            _ when subject.Device is null => ($"{e.Operation} failed: {kernel}.", null),
            _ => ($"{e.Operation} failed for {device}: {kernel}.", null),
        };
    }

    /// <summary>An EINVAL on DEV_NEW without a message: the parent's own limits say why, where they can.</summary>
    private static (string, string?) DescribeSilentRefusal(string kernel, Subject subject, VdpaParent? parentInfo)
    {
        var who = subject.Parent is null ? "The parent" : $"Parent '{subject.Parent}'";
        var name = subject.Device is null ? "the device" : $"'{subject.Device}'";
        if (subject.Spec?.Features is { } asked && parentInfo?.SupportedFeatureMask is { } offered && (asked & ~offered) != 0)
        {
            var type = parentInfo.SupportedClasses.Length == 1 ? parentInfo.SupportedClasses[0] : VirtioDeviceClass.Unknown;
            return ($"{who} does not offer the features {string.Join(", ", VirtioFeatures.GetNames(asked & ~offered, type))} that -Feature asks " +
                $"for, so it refused to create {name}: {kernel}. It offers {string.Join(", ", VirtioFeatures.GetNames(offered, type))}.",
                "Ask only for features in the parent's SupportedFeatures (Get-VdpaParent).");
        }

        if (parentInfo is { BusName: null, DeviceName: "vduse" })
        {
            return ($"{who} refused to create {name} and gave no reason: {kernel}. A vduse parent needs the VDUSE device " +
                "of that name created first (VDUSE_CREATE_DEV on /dev/vduse/control).", null);
        }

        return ($"{who} refused to create {name} and gave no reason: {kernel}. The kernel log (dmesg) may say which value it did not take.", null);
    }

    /// <summary>
    /// "Some provided attributes are not supported: 0x1000" names attribute numbers as bits; say them as parameters. Older
    /// kernels say "All provided attributes are not supported" without a mask: then the attributes that were sent.
    /// </summary>
    private static string DescribeAttributeMask(string? extAck, VdpaDeviceSpec? spec)
    {
        if (ParseHexMask(extAck) is not { } mask)
        {
            var sent = spec?.ProvisioningAttributes.Select(a => VdpaProvisioning.ParameterOf(a)).ToList() ?? [];
            return sent.Count switch
            {
                0 => "some of the given attributes",
                1 => sent[0],
                _ => $"one or more of {string.Join(", ", sent)} (the kernel does not say which)",
            };
        }

        var names = new List<string>();
        for (var bit = 0; bit < 64; bit++)
        {
            if ((mask & (1UL << bit)) != 0)
            {
                names.Add(VdpaProvisioning.ParameterOf(bit));
            }
        }

        return string.Join(", ", names);
    }

    private static string DescribeFeatureMask(string? extAck) =>
        ParseHexMask(extAck) is { } mask ? string.Join(", ", VirtioFeatures.GetNames(mask, VirtioDeviceClass.Net)) : "features";

    private static ulong? ParseHexMask(string? text)
    {
        var match = text is null ? null : HexNumber().Match(text);
        return match is { Success: true } && ulong.TryParse(match.Groups[1].Value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
    }

    [GeneratedRegex("0x([0-9a-fA-F]{1,16})")]
    private static partial Regex HexNumber();
}

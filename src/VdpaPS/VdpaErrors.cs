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
    public const string KernelWithoutVdpa = "VdpaNotInKernel";
    public const string FamilyNotVisible = "VdpaFamilyNotVisible";
    public const string NotSupportedByKernel = "VdpaNotSupportedByKernel";
    public const string DumpIncomplete = "VdpaDumpIncomplete";
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
            VdpaAbsence.NotLoaded => (FamilyNotFound, ErrorCategory.NotInstalled,
                $"The kernel's vDPA support is not loaded ({diagnosis.Evidence}): {kernel}. " +
                "Load it with 'modprobe vdpa' (and a parent driver such as vdpa_sim_net, mlx5_vdpa, vp_vdpa or vduse).",
                "Run 'modprobe vdpa' as root, then run the command again."),
            _ => (FamilyNotFound, ErrorCategory.NotInstalled,
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
    /// Maps a refusal by the kernel. The exception stays the kernel's (errno, extended ack, operation); the
    /// displayed message says it in the user's words and quotes the kernel's text.
    /// </summary>
    /// <param name="target">What the request was about: a name, an object whose ToString is its name, or a <see cref="VdpaDeviceSpec"/>.</param>
    /// <param name="parent">The parent the request was about, where the cmdlet knows it: its limits explain a refusal.</param>
    public static ErrorRecord FromNetlink(NetlinkException e, object? target, VdpaTargetKind kind, VdpaParent? parent = null)
    {
        if (e is FamilyNotFoundException missing)
        {
            return FamilyMissing(missing, new VdpaKernelSupport().Diagnose());
        }

        var (id, category) = Classify(e, kind);
        // A DEV_NEW names both the device (EEXIST) and the parent (ENODEV); a statistics request names a queue too.
        var (name, parentName, queue) = target switch
        {
            VdpaDeviceSpec spec => (spec.Name, spec.Parent, (uint?)null),
            VdpaQueueTarget q => (q.Device, null, q.Queue),
            _ => (target?.ToString(), target?.ToString(), null),
        };
        var (message, action) = Describe(id, e, name, parentName, queue, target as VdpaDeviceSpec, parent);
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

        if (e is VdpaCapabilityException)
        {
            return (NotSupportedByKernel, ErrorCategory.NotImplemented);
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
    private static (string Message, string? Action) Describe(string id, NetlinkException e, string? name, string? parent, uint? queue,
        VdpaDeviceSpec? spec, VdpaParent? parentInfo)
    {
        if (e is VdpaCapabilityException capability)
        {
            return ($"{(name is null ? string.Empty : $"vDPA device '{name}': ")}{e.Message}",
                $"Use a kernel with Linux {capability.Capability.AddedIn} or later for {capability.Capability.Description}.");
        }

        var kernel = string.IsNullOrEmpty(e.ExtAckMessage)
            ? $"the kernel answered {e.ErrnoDescription}"
            : $"the kernel said \"{e.ExtAckMessage}\" ({e.ErrnoDescription})";
        var device = name is null ? "the vDPA device" : $"vDPA device '{name}'";
        var parentText = parent is null ? "The parent" : $"Parent '{parent}'";
        return id switch
        {
            PermissionDenied when e is NetlinkSocketException => (
                $"This process may not open a generic netlink socket to ask the kernel: {kernel}. A security policy (seccomp, an LSM) forbids it.",
                "Run the command where netlink sockets are allowed, on the host."),
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
                $"{parentText} does not accept {DescribeAttributeMask(e.ExtAckMessage, spec)}: {kernel}.",
                "Leave those parameters out; Get-VdpaParent shows what the parent supports."),
            MissingFeatures => (
                $"-Feature lacks {DescribeFeatureMask(e.ExtAckMessage)}, which the other parameters need: {kernel}.",
                "Add those features to -Feature, or leave -Feature out."),
            FeatureNegotiationIncomplete => (
                $"{device} has no statistics yet: {kernel}. A driver has to negotiate features with the device first.",
                "Bind the device to virtio_vdpa, or start the VM that uses it through vhost_vdpa."),
            InvalidArgument when e.Operation == NewOperation && string.IsNullOrEmpty(e.ExtAckMessage) => DescribeSilentRefusal(kernel, name, parent, spec, parentInfo),
            NotSupported when e.Operation == StatsOperation => (
                $"{device} does not report queue statistics: {kernel}. The driver of its parent keeps no vendor statistics for it on this " +
                "kernel (DEV_VSTATS_GET came in Linux 5.19, and answers only for parent drivers that keep them).",
                null),
            _ => ($"{e.Operation} failed for {device}: {kernel}.", null),
        };
    }

    /// <summary>An EINVAL on DEV_NEW without a message: the parent's own limits say why, where they can.</summary>
    private static (string, string?) DescribeSilentRefusal(string kernel, string? name, string? parent, VdpaDeviceSpec? spec, VdpaParent? parentInfo)
    {
        var who = parent is null ? "The parent" : $"Parent '{parent}'";
        if (spec?.Features is { } asked && parentInfo?.SupportedFeatureMask is { } offered && (asked & ~offered) != 0)
        {
            var type = parentInfo.SupportedClasses.Length == 1 ? parentInfo.SupportedClasses[0] : VirtioDeviceClass.Unknown;
            return ($"{who} does not offer the features {string.Join(", ", VirtioFeatures.GetNames(asked & ~offered, type))} that -Feature asks " +
                $"for, so it refused to create '{name}': {kernel}. It offers {string.Join(", ", VirtioFeatures.GetNames(offered, type))}.",
                "Ask only for features in the parent's SupportedFeatures (Get-VdpaParent).");
        }

        if (parentInfo is { BusName: null, DeviceName: "vduse" })
        {
            return ($"{who} refused to create '{name}' and gave no reason: {kernel}. A vduse parent needs the VDUSE device " +
                "of that name created first (VDUSE_CREATE_DEV on /dev/vduse/control).", null);
        }

        return ($"{who} refused to create '{name}' and gave no reason: {kernel}. The kernel log (dmesg) may say which value it did not take.", null);
    }

    /// <summary>
    /// "Some provided attributes are not supported: 0x1000" names attribute numbers as bits; say them as parameters. Older
    /// kernels say "All provided attributes are not supported" without a mask: then the attributes that were sent.
    /// </summary>
    private static string DescribeAttributeMask(string? extAck, VdpaDeviceSpec? spec)
    {
        if (ParseHexMask(extAck) is not { } mask)
        {
            var sent = spec?.ProvisioningAttributes.Select(a => ParameterOf(a)).ToList() ?? [];
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
                names.Add(ParameterOf(bit));
            }
        }

        return string.Join(", ", names);
    }

    private static string DescribeFeatureMask(string? extAck) =>
        ParseHexMask(extAck) is { } mask ? string.Join(", ", VirtioFeatures.GetNames(mask, VirtioDeviceClass.Net)) : "features";

    /// <summary>The cmdlet parameter that sends a DEV_NEW attribute (from the core's provisioning table).</summary>
    public static string ParameterOf(int attribute) => VdpaProvisioning.ParameterOf(attribute);

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

    /// <summary>The parent's driver takes one device and does not refuse a second: refused here, before DEV_NEW.</summary>
    public static ErrorRecord ParentFull(string parent, string existing, string driver, object? target) =>
        new(new InvalidOperationException(
                $"Parent '{parent}' already has vDPA device '{existing}', and its driver ({driver}) keeps one device per parent: " +
                "the kernel would accept a second DEV_NEW, corrupt the parent, and removing a device then can crash the kernel. " +
                "Nothing was sent."),
            NoSpace, ErrorCategory.LimitsExceeded, target)
        {
            ErrorDetails = new ErrorDetails(string.Empty) { RecommendedAction = $"Remove '{existing}' first, or use another parent." },
        };

    /// <summary>A dump the kernel ended early, named by the devices it left out.</summary>
    public static string DumpIncompleteWarning(string command, IReadOnlyList<string> missing) =>
        $"The kernel ended the {command} dump early: it left out {string.Join(", ", missing.Select(m => $"'{m}'"))}, which the device " +
        "dump lists (Linux 6.1 stops at the first block device). Asking for each of them instead.";
}

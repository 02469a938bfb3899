using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Errors;

/// <summary>
/// What an error is about. <see cref="Value"/> becomes ErrorRecord.TargetObject, which a user's script reads, so only public
/// types get in: names, numbers, the module's output objects. An internal request (a DEV_NEW's attributes, one queue of a
/// device) stands there as the device's name, while <see cref="Subject"/> still hands it to the core, whose explanation
/// of a refusal needs it.
/// </summary>
internal readonly struct ErrorTarget
{
    private ErrorTarget(object? value, object? subject)
    {
        Value = value;
        Subject = subject ?? value;
    }

    /// <summary>The ErrorRecord's TargetObject: null or of a public type.</summary>
    public object? Value { get; }

    /// <summary>What the core's error map is told the request was about.</summary>
    public object? Subject { get; }

    public static implicit operator ErrorTarget(string? name) => new(name, null);

    public static implicit operator ErrorTarget(string[]? names) => new(names, null);

    public static implicit operator ErrorTarget(long value) => new(value, null);

    public static implicit operator ErrorTarget(VdpaDevice? device) => new(device, null);

    public static implicit operator ErrorTarget(VdpaParent? parent) => new(parent, null);

    public static implicit operator ErrorTarget(VdpaPhysicalFunction? pf) => new(pf, null);

    /// <summary>A device being created: its name, with the attributes asked for kept for the explanation.</summary>
    public static ErrorTarget Of(VdpaDeviceSpec spec) => new(spec.Name, spec);

    /// <summary>One queue of a device: the device's name, with the queue kept for the explanation.</summary>
    public static ErrorTarget Of(VdpaQueueTarget queue) => new(queue.Device, queue);
}

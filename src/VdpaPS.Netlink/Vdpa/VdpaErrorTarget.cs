namespace VdpaPS.Netlink.Vdpa;

/// <summary>What a name in an error refers to: decides which not-found a refusal is.</summary>
internal enum VdpaTargetKind
{
    Device,
    Parent,
    Queue,
}

/// <summary>One queue of a device, as the target of a statistics request.</summary>
internal sealed record VdpaQueueTarget(string Device, uint Queue)
{
    public override string ToString() => $"{Device} queue {Queue}";
}

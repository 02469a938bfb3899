namespace VdpaPS;

/// <summary>The virtio device class a feature mask belongs to; the values are the virtio device ids.</summary>
public enum VirtioDeviceClass : uint
{
    Unknown = 0,
    Net = 1,
    Block = 2,
}

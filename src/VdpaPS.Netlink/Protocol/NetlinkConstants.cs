namespace VdpaPS.Netlink.Protocol;

/// <summary>Numbers from linux/netlink.h and linux/genetlink.h that Tmds.LibC does not carry.</summary>
internal static class NetlinkConstants
{
    public const int NetlinkGeneric = 16;
    /// <summary>NETLINK_KOBJECT_UEVENT: the kernel's device events (uevents).</summary>
    public const int NetlinkKobjectUevent = 15;
    /// <summary>The multicast group of NETLINK_KOBJECT_UEVENT the kernel sends to (udev re-sends on group 2).</summary>
    public const uint UeventKernelGroup = 1;
    public const int SolNetlink = 270;
    public const int NetlinkCapAck = 10;
    public const int NetlinkExtAck = 11;

    public const int MessageHeaderSize = 16;
    public const int GenericHeaderSize = 4;
    public const int AttributeHeaderSize = 4;

    public const ushort MessageTypeNoop = 1;
    public const ushort MessageTypeError = 2;
    public const ushort MessageTypeDone = 3;
    public const ushort MessageTypeOverrun = 4;
    /// <summary>Types below this are netlink control messages, not family replies.</summary>
    public const ushort MessageTypeMinReserved = 16;

    public const ushort FlagRequest = 0x01;
    public const ushort FlagMulti = 0x02;
    public const ushort FlagAck = 0x04;
    public const ushort FlagDumpInterrupted = 0x10;
    public const ushort FlagDump = 0x300;
    /// <summary>On an error message: the echoed request was cut to its header (NETLINK_CAP_ACK).</summary>
    public const ushort FlagCapped = 0x100;
    /// <summary>On an error message: extended-ack attributes follow.</summary>
    public const ushort FlagAckTlvs = 0x200;

    public const ushort AttributeNested = 0x8000;
    /// <summary>The type without the nested (0x8000) and network-byte-order (0x4000) flags.</summary>
    public const ushort AttributeTypeMask = 0x3fff;

    public const ushort ExtAckMessage = 1;
    public const ushort ExtAckOffset = 2;
    public const ushort ExtAckMissingType = 5;

    public static int Align(int length) => (length + 3) & ~3;
}

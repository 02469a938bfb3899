namespace VdpaPS.Netlink.Protocol;

/// <summary>The kernel refused a request: its errno and, where it gave one, the extended-ack text.</summary>
public class NetlinkException : Exception
{
    public NetlinkException(int errno, string? extAckMessage, int? extAckOffset, string operation, int? missingAttribute = null)
        : base(FormatMessage(errno, extAckMessage, operation))
    {
        Errno = errno;
        ExtAckMessage = extAckMessage;
        ExtAckOffset = extAckOffset;
        Operation = operation;
        MissingAttribute = missingAttribute;
    }

    protected NetlinkException(string message, int errno, string operation, Exception? inner = null)
        : base(message, inner)
    {
        Errno = errno;
        Operation = operation;
    }

    /// <summary>The same refusal said in other words: the kernel's answer stays readable here and whole as the InnerException.</summary>
    protected NetlinkException(string message, NetlinkException kernel)
        : base(message, kernel)
    {
        Errno = kernel.Errno;
        ExtAckMessage = kernel.ExtAckMessage;
        ExtAckOffset = kernel.ExtAckOffset;
        MissingAttribute = kernel.MissingAttribute;
        Operation = kernel.Operation;
        Request = kernel.Request;
    }

    /// <summary>The positive errno (ENODEV is 19).</summary>
    public int Errno { get; }

    /// <summary>The kernel's own message from NLMSGERR_ATTR_MSG, without changes.</summary>
    public string? ExtAckMessage { get; }

    /// <summary>Byte offset into the request of the attribute the kernel blamed.</summary>
    public int? ExtAckOffset { get; }

    /// <summary>The attribute type the kernel said was missing (NLMSGERR_ATTR_MISS_TYPE).</summary>
    public int? MissingAttribute { get; }

    /// <summary>The request that failed, as "family command" (for example "vdpa DEV_NEW").</summary>
    public string Operation { get; }

    /// <summary>The request that failed, typed (family, command, dump or not), where it is known: what a refusal means depends on it.</summary>
    public GenericRequest? Request { get; init; }

    /// <summary>The C library's name and text for the errno, for example "ENODEV (No such device)".</summary>
    public string ErrnoDescription => Errno.DescribeErrno();

    private static string FormatMessage(int errno, string? extAck, string operation) =>
        string.IsNullOrEmpty(extAck)
            ? $"{operation}: the kernel answered {errno.DescribeErrno()}."
            : $"{operation}: {extAck} (the kernel answered {errno.DescribeErrno()})";
}

/// <summary>The generic netlink controller does not know the family: its module is not loaded.</summary>
public sealed class FamilyNotFoundException : NetlinkException
{
    public FamilyNotFoundException(string family, int errno)
        : base($"The generic netlink family '{family}' is not registered in this kernel ({errno.DescribeErrno()}).", errno, "nlctrl GETFAMILY")
    {
        Family = family;
    }

    public string Family { get; }
}

/// <summary>A dump's result changed while it was read (NLM_F_DUMP_INTR); the caller may retry.</summary>
public sealed class DumpInterruptedException : NetlinkException
{
    public DumpInterruptedException(string operation)
        : base($"{operation}: the kernel's state changed during the dump (NLM_F_DUMP_INTR).", LinuxErrno.EINTR, operation)
    {
    }
}

/// <summary>A reply that breaks the netlink protocol: truncated, malformed, or not an answer to this request.</summary>
public sealed class NetlinkProtocolException : NetlinkException
{
    public NetlinkProtocolException(string message, string operation = "netlink")
        : base(message, LinuxErrno.EPROTO, operation)
    {
    }
}

/// <summary>A socket call failed (socket, bind, send, receive).</summary>
public sealed class NetlinkSocketException : NetlinkException
{
    public NetlinkSocketException(string call, int errno)
        : base($"netlink {call} failed: {errno.DescribeErrno()}.", errno, call)
    {
    }

    /// <summary>For a receive that timed out (ETIMEDOUT): how long it waited for the kernel.</summary>
    public TimeSpan? Waited { get; init; }
}

/// <summary>The kernel did not answer a request within the socket's receive timeout: something holds it (vdpa's lock).</summary>
public sealed class NetlinkTimeoutException : NetlinkException
{
    public NetlinkTimeoutException(GenericRequest request, TimeSpan waited, NetlinkSocketException inner)
        : base($"{request.Operation}: the kernel did not answer within {waited.TotalSeconds:0} s.", LinuxErrno.ETIMEDOUT, request.Operation, inner)
    {
        Request = request;
        Waited = waited;
    }

    /// <summary>How long the request waited.</summary>
    public TimeSpan Waited { get; }
}

/// <summary>The wait for the kernel's answer was cancelled after the request was sent: the kernel may still carry it out.</summary>
/// <remarks>Pass it to <see cref="NetlinkConnection.Resume"/> to learn the outcome later, on the same connection.</remarks>
public sealed class NetlinkRequestCanceledException : OperationCanceledException
{
    public NetlinkRequestCanceledException(GenericRequest request, uint sequence)
        : base($"{request.Operation} was sent, and the wait for the kernel's answer was cancelled.")
    {
        Request = request;
        Sequence = sequence;
    }

    public GenericRequest Request { get; }

    public uint Sequence { get; }
}

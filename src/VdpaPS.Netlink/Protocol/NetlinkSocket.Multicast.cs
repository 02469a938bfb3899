using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Protocol;

/// <summary>What a non-blocking receive found.</summary>
internal enum MulticastReceiveResult
{
    /// <summary>A datagram was read.</summary>
    Datagram,

    /// <summary>Nothing is waiting.</summary>
    Empty,

    /// <summary>The kernel dropped messages because the socket's buffer was full (ENOBUFS): some were lost.</summary>
    Overrun,
}

/// <summary>Receiving from multicast groups: waiting with poll() for a deadline or a cancellation, and reading what waits without blocking.</summary>
internal sealed unsafe partial class NetlinkSocket
{
    /// <summary>Asks for a receive buffer of <paramref name="bytes"/>: above rmem_max where the caller may (root), else as much as allowed.</summary>
    /// <remarks>A burst of events (a module load binding many devices) must not overflow the default buffer and lose events.</remarks>
    public void SetReceiveBufferSize(int bytes)
    {
        var fd = (int)_handle.DangerousGetHandle().ToInt64();
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(int)) != 0)
        {
            SetOption(fd, SOL_SOCKET, SO_RCVBUF, bytes, required: false);
        }
    }

    /// <summary>
    /// Waits until a datagram can be read, at most <paramref name="timeout"/> (null: without a limit). One poll() on the socket and an
    /// eventfd that the cancellation writes, so the wait ends at once on Ctrl+C and costs nothing while nothing happens.
    /// </summary>
    /// <returns>True when a datagram waits; false when the timeout passed first.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public bool WaitForDatagram(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var deadline = timeout is { } t ? Environment.TickCount64 + (long)Math.Ceiling(t.TotalMilliseconds) : (long?)null;
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            return WaitReadable((int)_handle.DangerousGetHandle().ToInt64(), deadline, cancellationToken);
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Reads one datagram if one waits, without blocking, growing the buffer so nothing is cut off.</summary>
    /// <param name="senderPortId">Who sent it: 0 is the kernel; anything else is another process.</param>
    public MulticastReceiveResult ReceiveWaiting(ref byte[] buffer, out int length, out uint senderPortId)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)_handle.DangerousGetHandle().ToInt64();
            var error = ReceiveWhole(fd, ref buffer, MSG_DONTWAIT, out length, out senderPortId);
            return error switch
            {
                0 => MulticastReceiveResult.Datagram,
                LinuxErrno.EAGAIN => MulticastReceiveResult.Empty,
                LinuxErrno.ENOBUFS => MulticastReceiveResult.Overrun,
                _ => throw new NetlinkSocketException("receive", error),
            };
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

}

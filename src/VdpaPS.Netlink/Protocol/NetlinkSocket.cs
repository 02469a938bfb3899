using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace VdpaPS.Netlink.Protocol;

/// <summary>The socket file descriptor, closed exactly once however the connection ends.</summary>
internal sealed class NetlinkSocketHandle : SafeHandle
{
    public NetlinkSocketHandle()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    internal NetlinkSocketHandle(int fd)
        : this()
    {
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => handle.ToInt64() < 0;

    protected override bool ReleaseHandle() => close((int)handle.ToInt64()) == 0;
}

/// <summary>A NETLINK_GENERIC socket with extended acks on, bound to a kernel-assigned port id.</summary>
internal sealed unsafe partial class NetlinkSocket : INetlinkTransport
{
    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNetlink
    {
        public ushort Family;
        public ushort Pad;
        public uint PortId;
        public uint Groups;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeValue
    {
        public long Seconds;
        public long Microseconds;
    }

    private readonly NetlinkSocketHandle _handle;
    private readonly TimeSpan _receiveTimeout;

    // An eventfd that a cancellation writes to, so a receive waits in poll() on the socket and it together: no busy loop.
    private NetlinkSocketHandle? _wake;

    private NetlinkSocket(NetlinkSocketHandle handle, uint portId, TimeSpan receiveTimeout)
    {
        _handle = handle;
        PortId = portId;
        _receiveTimeout = receiveTimeout;
    }

    public uint PortId { get; }

    /// <summary>Opens and binds a socket of the given netlink protocol (NETLINK_GENERIC by default).</summary>
    /// <param name="receiveTimeout">How long one receive may wait for the kernel; a VDUSE device without its daemon can hold DEV_NEW for 30 s.</param>
    /// <param name="multicastGroups">The multicast groups to join at bind, as the bitmask of sockaddr_nl (1 is the kernel's uevents on NETLINK_KOBJECT_UEVENT).</param>
    public static NetlinkSocket Open(int protocol = NetlinkConstants.NetlinkGeneric, TimeSpan? receiveTimeout = null, uint multicastGroups = 0)
    {
        var fd = socket((ushort)AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            throw new NetlinkSocketException("socket", errno);
        }

        var handle = new NetlinkSocketHandle(fd);
        try
        {
            // Extended acks give the kernel's own error text; capped acks keep error replies small.
            // Kernels before 4.12 lack both: errors then carry only the errno, which is still correct.
            SetOption(fd, NetlinkConstants.SolNetlink, NetlinkConstants.NetlinkExtAck, 1, required: false);
            SetOption(fd, NetlinkConstants.SolNetlink, NetlinkConstants.NetlinkCapAck, 1, required: false);
            var timeout = receiveTimeout ?? TimeSpan.FromSeconds(120);
            var tv = new TimeValue { Seconds = (long)timeout.TotalSeconds, Microseconds = timeout.Milliseconds * 1000L };
            if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(TimeValue)) != 0)
            {
                throw new NetlinkSocketException("setsockopt(SO_RCVTIMEO)", errno);
            }

            var address = new SockaddrNetlink { Family = (ushort)AF_NETLINK, Groups = multicastGroups };
            if (bind(fd, (sockaddr*)&address, sizeof(SockaddrNetlink)) != 0)
            {
                throw new NetlinkSocketException("bind", errno);
            }

            var length = (socklen_t)sizeof(SockaddrNetlink);
            if (getsockname(fd, (sockaddr*)&address, &length) != 0)
            {
                throw new NetlinkSocketException("getsockname", errno);
            }

            return new NetlinkSocket(handle, address.PortId, timeout);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Send(ReadOnlySpan<byte> datagram)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)_handle.DangerousGetHandle().ToInt64();
            var kernel = new SockaddrNetlink { Family = (ushort)AF_NETLINK };
            fixed (byte* data = datagram)
            {
                while (true)
                {
                    var sent = (long)sendto(fd, data, datagram.Length, 0, (sockaddr*)&kernel, sizeof(SockaddrNetlink));
                    if (sent >= 0)
                    {
                        if (sent != datagram.Length)
                        {
                            throw new NetlinkProtocolException($"The kernel took {sent} of {datagram.Length} bytes.");
                        }

                        return;
                    }

                    var error = errno;
                    if (error != LinuxErrno.EINTR)
                    {
                        throw new NetlinkSocketException("send", error);
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public int Receive(ref byte[] buffer) => Receive(ref buffer, CancellationToken.None);

    /// <summary>Waits (up to the receive timeout) for a datagram, or until <paramref name="cancellation"/> is cancelled.</summary>
    /// <exception cref="OperationCanceledException">Cancelled before a datagram arrived; nothing was read.</exception>
    public int Receive(ref byte[] buffer, CancellationToken cancellation) => Receive(ref buffer, cancellation, null);

    /// <inheritdoc cref="Receive(ref byte[], CancellationToken)"/>
    /// <param name="stillWaiting">Told how long the wait has lasted, every <see cref="NetlinkConnection.NoticeInterval"/> without a datagram.</param>
    public int Receive(ref byte[] buffer, CancellationToken cancellation, Action<TimeSpan>? stillWaiting)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)_handle.DangerousGetHandle().ToInt64();
            WaitReadable(fd, cancellation, stillWaiting);
            var error = ReceiveWhole(fd, ref buffer, 0, out var length, out var senderPortId);
            if (error != 0)
            {
                throw error == LinuxErrno.EAGAIN
                    ? new NetlinkSocketException("receive (timed out waiting for the kernel)", LinuxErrno.ETIMEDOUT) { Waited = _receiveTimeout }
                    : new NetlinkSocketException("receive", error);
            }

            if (senderPortId != 0)
            {
                // Only the kernel (port 0) answers requests; anything else is not ours to read.
                throw new NetlinkProtocolException($"A datagram from port {senderPortId} arrived; only the kernel (port 0) may send here.");
            }

            return length;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    private void WaitReadable(int fd, CancellationToken cancellation, Action<TimeSpan>? stillWaiting)
    {
        var started = Environment.TickCount64;
        var deadline = started + (long)_receiveTimeout.TotalMilliseconds;
        var interval = (long)NetlinkConnection.NoticeInterval.TotalMilliseconds;
        while (true)
        {
            var until = stillWaiting is null ? deadline : Math.Min(deadline, Environment.TickCount64 + interval);
            if (WaitReadable(fd, until, cancellation))
            {
                return;
            }

            // A wait that ran to the deadline is the timeout, whatever the clock reads now: TickCount64 is a coarse clock
            // (4 ms steps) and can still read a little before the deadline, which gave notices a few ms apart at the end.
            if (until >= deadline)
            {
                throw new NetlinkSocketException("receive (timed out waiting for the kernel)", LinuxErrno.ETIMEDOUT) { Waited = _receiveTimeout };
            }

            stillWaiting!(TimeSpan.FromMilliseconds(Environment.TickCount64 - started));
        }
    }

    /// <summary>
    /// Waits until a datagram (or an error the next receive reports) waits, until <paramref name="deadline"/> (TickCount64; null:
    /// without a limit). One poll() on the socket and an eventfd the cancellation writes: no busy loop, Ctrl+C ends it at once.
    /// </summary>
    /// <returns>False when the deadline passed first.</returns>
    /// <exception cref="OperationCanceledException">Cancelled first; nothing was read.</exception>
    private bool WaitReadable(int fd, long? deadline, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        var wake = cancellation.CanBeCanceled ? WakeDescriptor() : -1;
        // Disposing the registration waits for a callback already running, so the eventfd is never written after close.
        using var registration = cancellation.CanBeCanceled ? cancellation.Register(() => Signal(wake)) : default;
        var fds = stackalloc pollfd[2];
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            var wait = deadline is { } d ? (int)Math.Clamp(d - Environment.TickCount64, 0, int.MaxValue) : -1;
            fds[0] = new pollfd { fd = fd, events = (short)POLLIN };
            // poll() skips a negative descriptor: without a token only the socket is watched.
            fds[1] = new pollfd { fd = wake, events = (short)POLLIN };
            var ready = LibCLibrary.Poll(fds, 2, wait);
            if (ready < 0)
            {
                // Read once, right after the call: a signal (the runtime's own, a child's SIGCHLD) interrupts poll with EINTR.
                var error = LibCLibrary.LastErrno;
                if (error == LinuxErrno.EINTR)
                {
                    continue;
                }

                throw new NetlinkSocketException("poll", error);
            }

            cancellation.ThrowIfCancellationRequested();
            if (ready == 0)
            {
                return false;
            }

            if ((fds[0].revents & POLLNVAL) != 0)
            {
                throw new NetlinkSocketException("poll (the socket was closed)", EBADF);
            }

            if (fds[0].revents != 0)
            {
                // Readable, or an error (POLLERR: a multicast overrun's ENOBUFS) the receive itself reports.
                return true;
            }
        }
    }

    /// <summary>The eventfd, created on first use and drained, so a cancellation from an earlier token does not wake this wait.</summary>
    private int WakeDescriptor()
    {
        if (_wake is null)
        {
            var created = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (created < 0)
            {
                throw new NetlinkSocketException("eventfd", errno);
            }

            _wake = new NetlinkSocketHandle(created);
        }

        var wake = (int)_wake.DangerousGetHandle().ToInt64();
        ulong count;
        _ = read(wake, &count, sizeof(ulong));
        return wake;
    }

    private static void Signal(int wake)
    {
        ulong one = 1;
        _ = write(wake, &one, sizeof(ulong));
    }

    /// <summary>
    /// Reads one datagram whole: peeks first with MSG_TRUNC, which reports its full size, grows the buffer to it, then
    /// reads it, so a datagram is never cut (that would be silent data loss). Shared by requests and multicast.
    /// </summary>
    /// <returns>0, or the errno of the receive that failed (EINTR is retried).</returns>
    private static int ReceiveWhole(int fd, ref byte[] buffer, int flags, out int length, out uint senderPortId)
    {
        var error = ReceiveFrom(fd, buffer, flags | MSG_PEEK | MSG_TRUNC, out length, out senderPortId);
        if (error != 0)
        {
            return error;
        }

        if (length > buffer.Length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        }

        error = ReceiveFrom(fd, buffer, flags | MSG_TRUNC, out length, out senderPortId);
        if (error == 0 && length > buffer.Length)
        {
            throw new NetlinkProtocolException($"A {length}-byte netlink datagram did not fit the {buffer.Length}-byte buffer.");
        }

        return error;
    }

    private static int ReceiveFrom(int fd, byte[] buffer, int flags, out int length, out uint senderPortId)
    {
        fixed (byte* data = buffer)
        {
            while (true)
            {
                var sender = default(SockaddrNetlink);
                var addressLength = (socklen_t)sizeof(SockaddrNetlink);
                var received = (long)recvfrom(fd, data, buffer.Length, flags, (sockaddr*)&sender, &addressLength);
                if (received >= 0)
                {
                    length = checked((int)received);
                    senderPortId = sender.PortId;
                    return 0;
                }

                var error = errno;
                if (error != LinuxErrno.EINTR)
                {
                    length = 0;
                    senderPortId = 0;
                    return error;
                }
            }
        }
    }

    private static void SetOption(int fd, int level, int option, int value, bool required)
    {
        if (setsockopt(fd, level, option, &value, sizeof(int)) != 0 && required)
        {
            throw new NetlinkSocketException($"setsockopt({option})", errno);
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
        _wake?.Dispose();
    }
}

using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Host;

/// <summary>What one wait for uevents brought: the kernel's events, and whether some were lost on the way.</summary>
internal sealed record UeventBatch(IReadOnlyList<Uevent> Events, bool Overrun);

/// <summary>
/// A subscription to the kernel's uevents (NETLINK_KOBJECT_UEVENT, group 1) on the core's netlink socket. Events that happen after
/// <see cref="Open"/> returns are kept for <see cref="Receive"/>, so a caller subscribes first, then checks the state, then waits:
/// nothing that happens in between is missed.
/// </summary>
internal sealed class UeventMonitor : IDisposable
{
    /// <summary>Room for a burst (every device of a parent bound at once) before the kernel has to drop events.</summary>
    private const int ReceiveBufferBytes = 4 * 1024 * 1024;

    private readonly NetlinkSocket _socket;
    private byte[] _buffer = new byte[8 * 1024];

    private UeventMonitor(NetlinkSocket socket)
    {
        _socket = socket;
    }

    /// <summary>Subscribes to the kernel's uevents. Works without privileges (the kernel lets anyone listen) in the initial network namespace.</summary>
    public static UeventMonitor Open()
    {
        var socket = NetlinkSocket.Open(NetlinkConstants.NetlinkKobjectUevent, multicastGroups: NetlinkConstants.UeventKernelGroup);
        try
        {
            socket.SetReceiveBufferSize(ReceiveBufferBytes);
            return new UeventMonitor(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Datagrams dropped because a process other than the kernel sent them, or they were no kernel uevent.</summary>
    public int Ignored { get; private set; }

    /// <summary>
    /// Waits for uevents, at most <paramref name="timeout"/> (null: no limit), and returns every one that has arrived by then.
    /// The batch may be empty when only ignored datagrams came.
    /// </summary>
    /// <returns>Null when the timeout passed with nothing received.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled (Ctrl+C).</exception>
    public UeventBatch? Receive(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!_socket.WaitForDatagram(timeout, cancellationToken))
        {
            return null;
        }

        var events = new List<Uevent>();
        var overrun = false;
        while (true)
        {
            switch (_socket.ReceiveWaiting(ref _buffer, out var length, out var sender))
            {
                case MulticastReceiveResult.Empty:
                    return new UeventBatch(events, overrun);
                case MulticastReceiveResult.Overrun:
                    overrun = true;
                    continue;
            }

            // Only the kernel (port 0) sends the kernel's events; another process on the group is not to be believed.
            var parsed = sender == 0 ? Uevent.Parse(_buffer.AsSpan(0, length)) : null;
            if (parsed is null)
            {
                Ignored++;
            }
            else
            {
                events.Add(parsed);
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}

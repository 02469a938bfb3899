namespace VdpaPS.Netlink.Protocol;

/// <summary>Moves whole netlink datagrams to and from the kernel.</summary>
/// <remarks>The seam between the protocol logic and the socket: tests replay datagrams recorded from a real kernel through it.</remarks>
internal interface INetlinkTransport : IDisposable
{
    /// <summary>The port id the kernel assigned to this socket; replies carry it.</summary>
    uint PortId { get; }

    void Send(ReadOnlySpan<byte> datagram);

    /// <summary>Receives one datagram from the kernel into <paramref name="buffer"/>, growing it so nothing is cut off.</summary>
    /// <returns>The datagram's length.</returns>
    int Receive(ref byte[] buffer);

    /// <summary>Receives one datagram, or gives up with <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> is cancelled first.</summary>
    /// <remarks>Transports that never wait (replays) need not override it.</remarks>
    int Receive(ref byte[] buffer, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        return Receive(ref buffer);
    }

    /// <summary>The same, telling <paramref name="stillWaiting"/> how long it has waited, now and then, while nothing came.</summary>
    /// <remarks>Transports that never wait need not override it.</remarks>
    int Receive(ref byte[] buffer, CancellationToken cancellation, Action<TimeSpan>? stillWaiting) => Receive(ref buffer, cancellation);
}

using System.Buffers.Binary;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;

namespace VdpaPS.Netlink.Tests;

/// <summary>The replay ran out of replies: where a real socket would wait for the kernel.</summary>
internal sealed class ReplayExhaustedException() : Exception("The replay has no reply left for this request.");

/// <summary>The client sent a request where the recording has none: the conversation left the script.</summary>
internal sealed class ReplayDivergedException(string message) : Exception(message);

/// <summary>Plays back datagrams recorded from a real kernel, checking that requests match what was recorded.</summary>
/// <remarks>
/// Every request must come where the recording has one, and equal it byte for byte but for the sequence number,
/// which the replay rewrites in the replies so the connection's checks run for real. Disposing checks that every
/// recorded datagram was used: a reply left over means the client stopped reading early.
/// </remarks>
internal sealed class ReplayTransport : INetlinkTransport
{
    private readonly Queue<(bool Sent, byte[] Datagram)> _script;
    private uint _lastSequence;
    private uint _recordedSequence;
    private bool _disposed;

    public ReplayTransport(IEnumerable<(bool Sent, byte[] Datagram)> script, uint portId = 4242)
    {
        _script = new Queue<(bool, byte[])>(script);
        PortId = portId;
    }

    public static ReplayTransport FromFixture(string name) =>
        new(NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", name))));

    public uint PortId { get; }

    /// <summary>When false, replies keep the recorded sequence numbers (to test the connection's checks).</summary>
    public bool RewriteSequence { get; init; } = true;

    /// <summary>When false, requests are not compared with the recording (for replies mutated on purpose).</summary>
    public bool CheckRequests { get; init; } = true;

    /// <summary>When false, replies keep the recorded port id.</summary>
    public bool RewritePortId { get; init; } = true;

    /// <summary>When false, datagrams left over at Dispose are allowed (for replies mutated on purpose).</summary>
    public bool RequireAllConsumed { get; init; } = true;

    public List<byte[]> Sent { get; } = [];

    public int Remaining => _script.Count;

    public void Send(ReadOnlySpan<byte> datagram)
    {
        var copy = datagram.ToArray();
        Sent.Add(copy);
        _lastSequence = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(8));
        if (_script.Count == 0 || !_script.Peek().Sent)
        {
            // A request where the recording has a reply to read, or nothing at all: the kernel never saw this one.
            throw new ReplayDivergedException(_script.Count == 0
                ? $"Request {Sent.Count} was sent after the recording ended: {Convert.ToHexString(copy)}"
                : $"Request {Sent.Count} was sent while {_script.Count(s => !s.Sent)} recorded repl(ies) were still unread: {Convert.ToHexString(copy)}");
        }

        var expected = _script.Dequeue().Datagram;
        _recordedSequence = BinaryPrimitives.ReadUInt32LittleEndian(expected.AsSpan(8));
        if (CheckRequests)
        {
            // Only the sequence number differs between recording and replay; everything else, the sender's port
            // field included, must be the same bytes.
            Assert.Equal(Convert.ToHexString(WithoutSequence(expected)), Convert.ToHexString(WithoutSequence(copy)));
        }
    }

    public int Receive(ref byte[] buffer)
    {
        if (_script.Count == 0 || _script.Peek().Sent)
        {
            throw new ReplayExhaustedException();
        }

        var datagram = (byte[])_script.Dequeue().Datagram.Clone();
        for (var offset = 0; offset + 16 <= datagram.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset));
            if (length < 16)
            {
                break;
            }

            if (RewriteSequence && BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset + 8)) == _recordedSequence)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(datagram.AsSpan(offset + 8), _lastSequence);
            }

            if (RewritePortId)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(datagram.AsSpan(offset + 12), PortId);
            }

            offset += (length + 3) & ~3;
        }

        if (datagram.Length > buffer.Length)
        {
            buffer = new byte[datagram.Length];
        }

        datagram.CopyTo(buffer, 0);
        return datagram.Length;
    }

    /// <summary>Fails when a recorded datagram was not used: a reply the client never read, or a request it never sent.</summary>
    public void AssertConsumed()
    {
        if (_script.Count > 0)
        {
            var (sent, datagram) = _script.Peek();
            Assert.Fail($"{_script.Count} recorded datagram(s) were not used; the first is a {(sent ? "request" : "reply")}: {Convert.ToHexString(datagram)}");
        }
    }

    private static byte[] WithoutSequence(byte[] request)
    {
        var copy = (byte[])request.Clone();
        copy.AsSpan(8, 4).Clear();
        return copy;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (RequireAllConsumed)
        {
            AssertConsumed();
        }
    }
}

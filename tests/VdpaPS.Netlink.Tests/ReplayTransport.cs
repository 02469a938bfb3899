using System.Buffers.Binary;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

/// <summary>Plays back datagrams recorded from a real kernel, checking that requests match what was recorded.</summary>
/// <remarks>Sequence numbers and port ids in the recording are rewritten to the replaying connection's, so the connection's checks run for real.</remarks>
/// <summary>The replay ran out of replies: where a real socket would wait for the kernel.</summary>
internal sealed class ReplayExhaustedException() : Exception("The replay has no reply left for this request.");

internal sealed class ReplayTransport : INetlinkTransport
{
    private readonly Queue<(bool Sent, byte[] Datagram)> _script;
    private uint _lastSequence;
    private uint _recordedSequence;

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

    public List<byte[]> Sent { get; } = [];

    public int Remaining => _script.Count;

    public void Send(ReadOnlySpan<byte> datagram)
    {
        var copy = datagram.ToArray();
        Sent.Add(copy);
        _lastSequence = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(8));
        if (_script.Count > 0 && _script.Peek().Sent)
        {
            var expected = _script.Dequeue().Datagram;
            _recordedSequence = BinaryPrimitives.ReadUInt32LittleEndian(expected.AsSpan(8));
            // Sequence number and sender port differ between recording and replay; everything else must match.
            if (CheckRequests)
            {
                Assert.Equal(Normalize(expected), Normalize(copy));
            }
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

    private static byte[] Normalize(byte[] request)
    {
        var copy = (byte[])request.Clone();
        copy.AsSpan(8, 8).Clear();
        return copy;
    }

    public void Dispose()
    {
    }
}

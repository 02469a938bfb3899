using System.Buffers.Binary;
using System.Text;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Benchmarks;

/// <summary>One request as recorded and the datagrams the kernel answered it with.</summary>
internal sealed record Exchange(byte[] Request, byte[][] Replies);

/// <summary>The core's recorded kernel conversations (tests/VdpaPS.Netlink.Tests/Fixtures), embedded in this assembly.</summary>
internal static class Fixtures
{
    private const int MessageHeaderSize = 16;
    private const int GenericHeaderSize = 4;

    /// <summary>What the kernel fills one dump datagram up to: SKB_WITH_OVERHEAD of the 32 KiB the connection reads with.</summary>
    private const int DumpDatagramLimit = 32768 - 320;

    public static IReadOnlyList<Exchange> Exchanges(string name)
    {
        using var stream = typeof(Fixtures).Assembly.GetManifestResourceStream($"Fixtures/{name}.nlrec")
            ?? throw new FileNotFoundException($"No embedded fixture {name}.nlrec.");
        using var text = new StreamReader(stream, Encoding.UTF8);
        var lines = new List<string>();
        while (text.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        var exchanges = new List<Exchange>();
        byte[]? request = null;
        var replies = new List<byte[]>();
        foreach (var (sent, datagram) in NetlinkRecording.Parse(lines))
        {
            if (sent)
            {
                if (request is not null)
                {
                    exchanges.Add(new Exchange(request, [.. replies]));
                }

                request = datagram;
                replies.Clear();
            }
            else
            {
                replies.Add(datagram);
            }
        }

        if (request is not null)
        {
            exchanges.Add(new Exchange(request, [.. replies]));
        }

        return exchanges;
    }

    /// <summary>The vdpa exchange of a fixture: every fixture first resolves the family through nlctrl.</summary>
    public static Exchange VdpaExchange(string name) => Exchanges(name).Last();

    /// <summary>The attributes (after the netlink and generic headers) of every vdpa reply message in an exchange.</summary>
    public static List<byte[]> ReplyAttributes(Exchange exchange)
    {
        var family = BinaryPrimitives.ReadUInt16LittleEndian(exchange.Request.AsSpan(4));
        var result = new List<byte[]>();
        foreach (var datagram in exchange.Replies)
        {
            foreach (var (offset, length) in Messages(datagram))
            {
                if (BinaryPrimitives.ReadUInt16LittleEndian(datagram.AsSpan(offset + 4)) == family)
                {
                    result.Add(datagram.AsSpan(offset + MessageHeaderSize + GenericHeaderSize, length - MessageHeaderSize - GenericHeaderSize).ToArray());
                }
            }
        }

        return result;
    }

    public static byte[] FirstReplyAttributes(string name) => ReplyAttributes(VdpaExchange(name))[0];

    /// <summary>The (offset, length) of each netlink message in a datagram.</summary>
    public static IEnumerable<(int Offset, int Length)> Messages(byte[] datagram)
    {
        for (var offset = 0; offset + MessageHeaderSize <= datagram.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset));
            if (length < MessageHeaderSize)
            {
                yield break;
            }

            yield return (offset, length);
            offset += (length + 3) & ~3;
        }
    }

    /// <summary>
    /// The recorded DEV_GET dump grown to <paramref name="count"/> net devices: the recorded fxnet0 message repeated with
    /// same-length names (vd0000, vd0001, ...), packed into datagrams as the kernel packs a dump, then the recorded DONE.
    /// </summary>
    public static IReadOnlyList<Exchange> DeviceDump(int count)
    {
        var recorded = Exchanges("dev-dump");
        var dump = recorded[^1];
        if (count == 2)
        {
            return recorded;
        }

        var first = dump.Replies[0];
        var (offset, length) = Messages(first).First();
        var template = first.AsSpan(offset, length).ToArray();
        var nameAt = FindAttribute(template, VdpaAttribute.DeviceName);
        var datagrams = new List<byte[]>();
        var current = new List<byte>();
        for (var i = 0; i < count; i++)
        {
            var message = (byte[])template.Clone();
            var name = Encoding.ASCII.GetBytes($"vd{i:D4}");
            if (name.Length + 1 != BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(nameAt)) - 4)
            {
                throw new InvalidOperationException("The synthetic name must have the recorded name's length.");
            }

            name.CopyTo(message, nameAt + 4);
            if (current.Count + message.Length > DumpDatagramLimit)
            {
                datagrams.Add([.. current]);
                current.Clear();
            }

            current.AddRange(message);
        }

        datagrams.Add([.. current]);
        datagrams.AddRange(dump.Replies.Skip(1));
        return [.. recorded.SkipLast(1), new Exchange(dump.Request, [.. datagrams])];
    }

    /// <summary>The offset of an attribute in a generic netlink message.</summary>
    private static int FindAttribute(byte[] message, ushort type)
    {
        for (var at = MessageHeaderSize + GenericHeaderSize; at + 4 <= message.Length;)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(at));
            if ((BinaryPrimitives.ReadUInt16LittleEndian(message.AsSpan(at + 2)) & 0x3fff) == type)
            {
                return at;
            }

            at += (length + 3) & ~3;
        }

        throw new InvalidOperationException($"No attribute {type} in the recorded message.");
    }
}

/// <summary>
/// Answers each request with the datagrams recorded for the same request, as often as asked, allocating nothing:
/// replies are copied into the connection's buffer and given its sequence number and port there.
/// </summary>
internal sealed class LoopReplayTransport : INetlinkTransport
{
    private readonly List<Exchange> _exchanges = [];
    private byte[][] _replies = [];
    private int _next;
    private uint _sequence;

    public LoopReplayTransport(params IEnumerable<Exchange>[] conversations)
    {
        foreach (var exchange in conversations.SelectMany(c => c))
        {
            if (!_exchanges.Exists(e => SameRequest(e.Request, exchange.Request)))
            {
                _exchanges.Add(exchange);
            }
        }
    }

    public uint PortId => 4242;

    /// <summary>Finds the recording of this request; sequence number and port are the only bytes allowed to differ.</summary>
    public void Send(ReadOnlySpan<byte> datagram)
    {
        _sequence = BinaryPrimitives.ReadUInt32LittleEndian(datagram[8..]);
        foreach (var exchange in _exchanges)
        {
            if (SameRequest(exchange.Request, datagram))
            {
                _replies = exchange.Replies;
                _next = 0;
                return;
            }
        }

        throw new InvalidOperationException($"No recorded exchange for the request {Convert.ToHexString(datagram)}.");
    }

    public int Receive(ref byte[] buffer)
    {
        if (_next >= _replies.Length)
        {
            throw new InvalidOperationException("The recording has no reply left for this request.");
        }

        var datagram = _replies[_next++];
        if (datagram.Length > buffer.Length)
        {
            buffer = new byte[datagram.Length];
        }

        datagram.CopyTo(buffer, 0);
        for (var offset = 0; offset + 16 <= datagram.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(offset));
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset + 8), _sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset + 12), PortId);
            offset += (Math.Max(length, 16) + 3) & ~3;
        }

        return datagram.Length;
    }

    private static bool SameRequest(ReadOnlySpan<byte> recorded, ReadOnlySpan<byte> sent) =>
        recorded.Length == sent.Length && recorded.Length >= 16 &&
        recorded[..8].SequenceEqual(sent[..8]) && recorded[16..].SequenceEqual(sent[16..]);

    public void Dispose()
    {
    }
}

using System.Buffers.Binary;
using System.Text;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The connection's handling of netlink's rarer replies (interrupted dumps, stale sequence numbers, capped and
/// uncapped extended acks, malformed lengths). Real kernels produce these only under load or faults, so the
/// datagrams are built here byte by byte from the netlink uAPI layout.
/// </summary>
public sealed class NetlinkConnectionTests
{
    private const ushort Family = 0x20;
    private const uint Port = 4242;
    private static readonly GenericRequest DumpRequest = new(Family, 5, 1, Dump: true, "test DUMP");
    private static readonly GenericRequest DoRequest = new(Family, 5, 1, Dump: false, "test DO");

    [Fact]
    public void DumpAcrossSeveralDatagramsDeliversEveryReplyInOrder()
    {
        var transport = Script(
            Req(DumpSent(1)),
            Rep(Datagram(Reply(1, NetlinkConstants.FlagMulti, "a"), Reply(1, NetlinkConstants.FlagMulti, "b"))),
            Rep(Datagram(Reply(1, NetlinkConstants.FlagMulti, "c"), Done(1, 0))));
        var names = new List<string>();

        var ack = new NetlinkConnection(transport, initialSequence: 0).Execute(DumpRequest, null, (_, a) => names.Add(ReadName(a)));

        Assert.Equal(["a", "b", "c"], names);
        Assert.Equal(3, ack.ReplyCount);
        transport.AssertConsumed();
    }

    [Fact]
    public void RequestCarriesFlagsSequenceAndAttributes()
    {
        // The request as the uAPI lays it out: nlmsghdr, genlmsghdr, then attribute 4 "dev0\0" padded to 4 bytes.
        var transport = Script(Req(DoSent(1, Tlv(4, "dev0\0"u8.ToArray()))), Rep(Datagram(Reply(1, 0, "x"), Ack(1))));
        var connection = new NetlinkConnection(transport, initialSequence: 0);

        connection.Execute(DoRequest, w => w.WriteString(4, "dev0"), null);
        transport.AssertConsumed();

        var sent = transport.Sent.Single();
        Assert.Equal((uint)sent.Length, BinaryPrimitives.ReadUInt32LittleEndian(sent));
        Assert.Equal(Family, BinaryPrimitives.ReadUInt16LittleEndian(sent.AsSpan(4)));
        Assert.Equal(NetlinkConstants.FlagRequest | NetlinkConstants.FlagAck, BinaryPrimitives.ReadUInt16LittleEndian(sent.AsSpan(6)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(sent.AsSpan(8)));
        Assert.Equal(5, sent[16]);
        Assert.Equal(1, sent[17]);
        // "dev0\0" is 5 bytes: a 9-byte attribute padded to 12.
        Assert.Equal(16 + 4 + 12, sent.Length);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(sent.AsSpan(20)));
        Assert.Equal("dev0\0"u8.ToArray(), sent.AsSpan(24, 5).ToArray());
    }

    [Fact]
    public void InterruptedDumpThrowsAndDumpRetriesFromTheStart()
    {
        var transport = Script(
            Req(DumpSent(1)),
            Rep(Datagram(Reply(1, NetlinkConstants.FlagMulti | NetlinkConstants.FlagDumpInterrupted, "old"), Done(1, 0))),
            Req(DumpSent(2)),
            Rep(Datagram(Reply(2, NetlinkConstants.FlagMulti, "new"), Done(2, 0))));
        var connection = new NetlinkConnection(transport, initialSequence: 0);
        var names = new List<string>();

        connection.ExecuteDump(DumpRequest, null, names.Clear, (_, a) => names.Add(ReadName(a)));

        Assert.Equal(["new"], names);
        Assert.Equal(2, transport.Sent.Count);
        transport.AssertConsumed();
    }

    [Fact]
    public void InterruptedDumpIsReportedWhenRetriesRunOut()
    {
        var transport = Script(Req(DumpSent(1)), Rep(Datagram(Reply(1, NetlinkConstants.FlagDumpInterrupted, "old"), Done(1, 0))));

        var e = Assert.Throws<DumpInterruptedException>(() =>
            new NetlinkConnection(transport, initialSequence: 0).ExecuteDump(DumpRequest, null, () => { }, (_, _) => { }, attempts: 1));

        Assert.Equal("test DUMP", e.Operation);
    }

    [Fact]
    public void StaleRepliesFromAnAbandonedRequestAreDropped()
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Reply(7, NetlinkConstants.FlagMulti, "stale"), Done(7, 0), Reply(1, 0, "mine"), Ack(1))));
        var names = new List<string>();

        new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, (_, a) => names.Add(ReadName(a)));

        Assert.Equal(["mine"], names);
    }

    [Fact]
    public void ReplyForAnotherPortIsAProtocolError()
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Message(Family, 0, 1, Port + 1, GenericBody("x")))));

        var e = Assert.Throws<NetlinkProtocolException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, null));

        Assert.Contains($"port {Port + 1}", e.Message);
    }

    [Fact]
    public void ReplyOfAnotherFamilyIsAProtocolError()
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Message(Family + 1, 0, 1, Port, GenericBody("x")))));

        Assert.Throws<NetlinkProtocolException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, null));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ErrorCarriesTheExtendedAckWhetherTheEchoIsCappedOrNot(bool capped)
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Error(1, -19, capped, echoLength: 40, message: "vdpa: device not found", offset: 20))));

        var e = Assert.Throws<NetlinkException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, null));

        Assert.Equal(19, e.Errno);
        Assert.Equal("vdpa: device not found", e.ExtAckMessage);
        Assert.Equal(20, e.ExtAckOffset);
        Assert.Equal("test DO: vdpa: device not found (the kernel answered ENODEV (No such device))", e.Message);
    }

    [Fact]
    public void ErrorWithoutExtendedAckStillNamesTheErrno()
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Error(1, -17, capped: true, echoLength: 16, message: null, offset: null))));

        var e = Assert.Throws<NetlinkException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, null));

        Assert.Equal(17, e.Errno);
        Assert.Null(e.ExtAckMessage);
        Assert.Contains("EEXIST", e.Message);
    }

    [Fact]
    public void AcknowledgementKeepsTheKernelsWarning()
    {
        var transport = Script(Req(DoSent(1)), Rep(Datagram(Error(1, 0, capped: true, echoLength: 16, message: "vdpa: block device not supported", offset: null))));

        var ack = new NetlinkConnection(transport, initialSequence: 0).Execute(DoRequest, null, null);

        Assert.Equal("vdpa: block device not supported", ack.Warning);
        transport.AssertConsumed();
    }

    [Fact]
    public void DumpThatFailsMidWayReportsTheErrorInDone()
    {
        var transport = Script(Req(DumpSent(1)), Rep(Datagram(Reply(1, NetlinkConstants.FlagMulti, "a"), Done(1, -4, "dump failed"))));

        var e = Assert.Throws<NetlinkException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DumpRequest, null, (_, _) => { }));

        Assert.Equal(4, e.Errno);
        Assert.Equal("dump failed", e.ExtAckMessage);
    }

    [Theory]
    [InlineData(200)] // longer than the datagram
    [InlineData(8)] // shorter than a header
    public void MessageLengthThatDoesNotFitIsAProtocolError(int claimedLength)
    {
        var message = Reply(1, 0, "x");
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)claimedLength);

        Assert.Throws<NetlinkProtocolException>(() => new NetlinkConnection(Script(Req(DoSent(1)), Rep(Datagram(message))), initialSequence: 0).Execute(DoRequest, null, null));
    }

    [Fact]
    public void OverrunIsReportedNotIgnored()
    {
        var transport = Script(Req(DumpSent(1)), Rep(Datagram(Message(NetlinkConstants.MessageTypeOverrun, 0, 1, Port, []))));

        Assert.Throws<NetlinkProtocolException>(() => new NetlinkConnection(transport, initialSequence: 0).Execute(DumpRequest, null, (_, _) => { }));
    }

    [Fact]
    public void HandlerExceptionLeavesTheConnectionUsable()
    {
        var transport = Script(
            Req(DumpSent(1)),
            Rep(Datagram(Reply(1, NetlinkConstants.FlagMulti, "a"), Reply(1, NetlinkConstants.FlagMulti, "b"), Done(1, 0))),
            Req(DoSent(2)),
            Rep(Datagram(Reply(2, 0, "next"), Ack(2))));
        var connection = new NetlinkConnection(transport, initialSequence: 0);

        Assert.Throws<InvalidOperationException>(() => connection.Execute(DumpRequest, null, (_, _) => throw new InvalidOperationException("stop")));
        var names = new List<string>();
        connection.Execute(DoRequest, null, (_, a) => names.Add(ReadName(a)));

        Assert.Equal(["next"], names);
        transport.AssertConsumed();
    }

    private static ReplayTransport Script(params (bool Sent, byte[] Datagram)[] steps) =>
        new(steps, Port) { RewriteSequence = false, RewritePortId = false };

    private static (bool, byte[]) Req(byte[] request) => (true, request);

    private static (bool, byte[]) Rep(byte[] datagram) => (false, datagram);

    /// <summary>
    /// A request as linux/netlink.h and linux/genetlink.h lay it out, written here byte by byte rather than by the
    /// project's encoder: nlmsghdr (len, type, flags, seq, pid 0), genlmsghdr (cmd 5, version 1, reserved), attributes.
    /// NLM_F_REQUEST 0x1 with NLM_F_ACK 0x4 for a do, with NLM_F_DUMP (NLM_F_ROOT 0x100 | NLM_F_MATCH 0x200) for a dump.
    /// </summary>
    private static byte[] UapiRequest(ushort flags, uint sequence, params byte[][] attributes)
    {
        var body = attributes.SelectMany(a => a).ToArray();
        var request = new byte[16 + 4 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)request.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(4), Family);
        BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), sequence);
        request[16] = 5;
        request[17] = 1;
        body.CopyTo(request, 20);
        return request;
    }

    private static byte[] DoSent(uint sequence, params byte[][] attributes) => UapiRequest(0x1 | 0x4, sequence, attributes);

    private static byte[] DumpSent(uint sequence) => UapiRequest(0x1 | 0x100 | 0x200, sequence);

    private static string ReadName(ReadOnlySpan<byte> attributes)
    {
        var reader = new NetlinkAttributeReader(attributes);
        Assert.True(reader.TryRead(out var a));
        return a.GetString();
    }

    private static byte[] Datagram(params byte[][] messages) => messages.SelectMany(m => m.Concat(new byte[Pad(m.Length)])).ToArray();

    private static int Pad(int length) => ((length + 3) & ~3) - length;

    private static byte[] Message(ushort type, ushort flags, uint sequence, uint port, byte[] body)
    {
        var message = new byte[16 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(12), port);
        body.CopyTo(message, 16);
        return message;
    }

    /// <summary>A genlmsghdr (cmd 3, version 1) and one string attribute 4, as the uAPI lays them out.</summary>
    private static byte[] GenericBody(string name) => [3, 1, 0, 0, .. Tlv(4, Encoding.UTF8.GetBytes(name + "\0"))];

    private static byte[] Reply(uint sequence, ushort flags, string name) => Message(Family, flags, sequence, Port, GenericBody(name));

    private static byte[] Ack(uint sequence) => Error(sequence, 0, capped: true, echoLength: 16, message: null, offset: null);

    private static byte[] Done(uint sequence, int error, string? message = null)
    {
        var body = new List<byte>(BitConverter.GetBytes(error));
        if (message is not null)
        {
            body.AddRange(Tlv(NetlinkConstants.ExtAckMessage, Encoding.UTF8.GetBytes(message + "\0")));
        }

        return Message(NetlinkConstants.MessageTypeDone, (ushort)(NetlinkConstants.FlagMulti | (message is null ? 0 : NetlinkConstants.FlagAckTlvs)), sequence, Port, [.. body]);
    }

    /// <summary>An NLMSG_ERROR: errno, the echoed request (its header alone when capped), then extended-ack TLVs.</summary>
    private static byte[] Error(uint sequence, int error, bool capped, int echoLength, string? message, int? offset)
    {
        var body = new List<byte>(BitConverter.GetBytes(error));
        var echo = new byte[capped ? 16 : echoLength];
        BinaryPrimitives.WriteUInt32LittleEndian(echo, (uint)echoLength);
        body.AddRange(echo);
        var flags = (ushort)(capped ? NetlinkConstants.FlagCapped : 0);
        if (message is not null)
        {
            flags |= NetlinkConstants.FlagAckTlvs;
            body.AddRange(Tlv(NetlinkConstants.ExtAckMessage, Encoding.UTF8.GetBytes(message + "\0")));
        }

        if (offset is { } o)
        {
            flags |= NetlinkConstants.FlagAckTlvs;
            body.AddRange(Tlv(NetlinkConstants.ExtAckOffset, BitConverter.GetBytes((uint)o)));
        }

        return Message(NetlinkConstants.MessageTypeError, flags, sequence, Port, [.. body]);
    }

    private static byte[] Tlv(ushort type, byte[] payload)
    {
        var tlv = new byte[NetlinkConstants.Align(4 + payload.Length)];
        BinaryPrimitives.WriteUInt16LittleEndian(tlv, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(tlv.AsSpan(2), type);
        payload.CopyTo(tlv, 4);
        return tlv;
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

/// <summary>Every wait for the kernel ends on cancellation (a cmdlet's StopProcessing): a real socket on this machine's kernel, and the connection above it.</summary>
public sealed class CancellationTests
{
    [Fact]
    public void ACancelledReceiveOnARealSocketEndsPromptly()
    {
        // Nothing was sent, so the kernel never answers: only the cancellation can end this wait (the timeout is 120 s).
        using var socket = NetlinkSocket.Open();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var buffer = new byte[1024];
        var watch = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => socket.Receive(ref buffer, stop.Token));
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.15, 2);
    }

    [Fact]
    public void AnAlreadyCancelledTokenDoesNotWaitAndAFreshTokenStillReceives()
    {
        using var socket = NetlinkSocket.Open();
        var buffer = new byte[1024];
        Assert.ThrowsAny<OperationCanceledException>(() => socket.Receive(ref buffer, new CancellationToken(canceled: true)));

        // The eventfd the earlier cancellation signalled must not end a later wait: this one answers.
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => socket.Receive(ref buffer, stop.Token));
        using var connection = new NetlinkConnection(socket, cancellation: new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.Equal(GenericNetlinkController.FamilyId, GenericNetlinkController.GetFamily(connection, "nlctrl").Id);
    }

    [Fact]
    public void AReceiveWithoutAnAnswerTimesOutWithETIMEDOUT()
    {
        using var socket = NetlinkSocket.Open(receiveTimeout: TimeSpan.FromMilliseconds(300));
        var buffer = new byte[1024];
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<NetlinkSocketException>(() => socket.Receive(ref buffer, CancellationToken.None));
        Assert.Equal(LinuxErrno.ETIMEDOUT, e.Errno);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.25, 5);
    }

    [Fact]
    public void AStoppedRequestNamesItsSequenceAndItsOutcomeCanBeAwaitedLater()
    {
        using var stop = new CancellationTokenSource();
        var transport = new HeldTransport();
        using var connection = new NetlinkConnection(transport, initialSequence: 41, cancellation: stop.Token);
        var request = new GenericRequest(0x23, 3, 1, Dump: false, "vdpa DEV_NEW");
        var worker = Task.Run(() => connection.Execute(request, w => w.WriteString(1, "d0"), null));
        Assert.True(transport.Waiting.Wait(TimeSpan.FromSeconds(10)));
        var watch = Stopwatch.StartNew();
        stop.Cancel();
        var e = Assert.Throws<NetlinkRequestCanceledException>(() => worker.GetAwaiter().GetResult());
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 2);
        Assert.Equal(42u, e.Sequence);
        Assert.Equal(request, e.Request);

        // The kernel finishes the request later: Resume reads its ack, skipping nothing else.
        transport.Replies.Enqueue(Ack(42, transport.PortId));
        Assert.Equal(0, connection.Resume(e).ReplyCount);
    }

    [Fact]
    public void AResumedRequestThatTheKernelRefusedSaysSo()
    {
        using var stop = new CancellationTokenSource();
        var transport = new HeldTransport();
        using var connection = new NetlinkConnection(transport, initialSequence: 7, cancellation: stop.Token);
        var worker = Task.Run(() => connection.Execute(new GenericRequest(0x23, 3, 1, Dump: false, "vdpa DEV_NEW"), null, null));
        Assert.True(transport.Waiting.Wait(TimeSpan.FromSeconds(10)));
        stop.Cancel();
        var e = Assert.Throws<NetlinkRequestCanceledException>(() => worker.GetAwaiter().GetResult());
        transport.Replies.Enqueue(Ack(8, transport.PortId, -LinuxErrno.EEXIST));
        Assert.Equal(LinuxErrno.EEXIST, Assert.Throws<NetlinkException>(() => connection.Resume(e)).Errno);
    }

    [Fact]
    public async Task ARequestTheKernelHoldsInsideSendIsStoppedPromptlyAndResumedAfterTheSendReturns()
    {
        // Netlink runs a do request's handler in the sender's send(): a VDUSE parent without its daemon keeps DEV_NEW
        // there for its message timeout, so the cancellation cannot wait for that send to return.
        using var stop = new CancellationTokenSource();
        var transport = new HeldTransport { HoldInSend = true };
        using var connection = new NetlinkConnection(transport, initialSequence: 9, cancellation: stop.Token);
        var worker = Task.Run(() => connection.Execute(new GenericRequest(0x23, 5, 1, Dump: false, "vdpa DEV_NEW"), w => w.WriteString(1, "d0"), null));
        Assert.True(transport.InSend.Wait(TimeSpan.FromSeconds(10)));
        var watch = Stopwatch.StartNew();
        stop.Cancel();
        var e = Assert.Throws<NetlinkRequestCanceledException>(() => worker.GetAwaiter().GetResult());
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 2);
        Assert.False(transport.SendReturned, "the stop came before the kernel's handler returned");

        // The kernel's handler returns later and acks: Resume waits for that send, then reads the ack.
        var resumed = Task.Run(() => connection.Resume(e));
        Assert.NotSame(resumed, await Task.WhenAny(resumed, Task.Delay(200)));
        transport.Replies.Enqueue(Ack(10, transport.PortId));
        transport.ReleaseSend.Set();
        var ack = await resumed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, ack.ReplyCount);
        Assert.Equal(1, transport.SendCount);
    }

    [Fact]
    public void ADumpTheKernelHoldsInsideSendIsStoppedPromptly()
    {
        // A dump's first part runs in the sender's send() too: a listing waits there while another process's DEV_NEW
        // holds vdpa's lock.
        using var stop = new CancellationTokenSource();
        var transport = new HeldTransport { HoldInSend = true };
        using var connection = new NetlinkConnection(transport, initialSequence: 3, cancellation: stop.Token);
        var worker = Task.Run(() => connection.Execute(new GenericRequest(0x23, 3, 1, Dump: true, "vdpa DEV_GET dump"), null, (_, _) => { }));
        Assert.True(transport.InSend.Wait(TimeSpan.FromSeconds(10)));
        var watch = Stopwatch.StartNew();
        stop.Cancel();
        var e = Assert.Throws<NetlinkRequestCanceledException>(() => worker.GetAwaiter().GetResult());
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 2);
        Assert.True(e.Request.Dump);
        Assert.False(connection.Synchronized);
        transport.ReleaseSend.Set();
    }

    internal static byte[] Ack(uint sequence, uint port, int error = 0)
    {
        // NLMSG_ERROR, capped: errno, then the echoed request header.
        var message = new byte[16 + 4 + 16];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), NetlinkConstants.MessageTypeError);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), NetlinkConstants.FlagCapped);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(12), port);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(16), error);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(20), 16);
        return message;
    }

    /// <summary>A kernel that holds the request: a receive waits until a reply is queued or the token is cancelled.</summary>
    private sealed class HeldTransport : INetlinkTransport
    {
        public uint PortId => 4242;

        public ManualResetEventSlim Waiting { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<byte[]> Replies { get; } = new();

        /// <summary>Send blocks until <see cref="ReleaseSend"/> is set, as the kernel's handler running in send() does.</summary>
        public bool HoldInSend { get; init; }

        public ManualResetEventSlim InSend { get; } = new();

        public ManualResetEventSlim ReleaseSend { get; } = new();

        public volatile bool SendReturned;

        public int SendCount;

        public void Send(ReadOnlySpan<byte> datagram)
        {
            Interlocked.Increment(ref SendCount);
            if (HoldInSend)
            {
                InSend.Set();
                ReleaseSend.Wait(TimeSpan.FromSeconds(30));
            }

            SendReturned = true;
        }

        public int Receive(ref byte[] buffer) => Receive(ref buffer, CancellationToken.None);

        public int Receive(ref byte[] buffer, CancellationToken cancellation)
        {
            byte[]? reply;
            while (!Replies.TryDequeue(out reply))
            {
                Waiting.Set();
                cancellation.WaitHandle.WaitOne(20);
                cancellation.ThrowIfCancellationRequested();
            }

            reply.CopyTo(buffer, 0);
            return reply.Length;
        }

        public void Dispose()
        {
        }
    }
}

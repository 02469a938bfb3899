using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// Issue 22's cancellation findings: a stop that lands as the send completes, the in-flight guard of Resume, the cleanup of a
/// stopped DEV_NEW (done on the caller's thread, bounded, a timeout no refusal), no request inside an exception filter, and
/// a poll interrupted by a signal.
/// </summary>
public sealed class StoppedRequestTests
{
    private static readonly GenericNetlinkFamily Vdpa = new("vdpa", 0x23, 1, 0, 22,
        [.. VdpaKernelCatalog.Commands.Select(c => new GenericOperation((uint)c.Command, GenericOperationFlags.Do | GenericOperationFlags.Dump))], []);

    private static readonly GenericRequest DevNew = new(Vdpa.Id, (byte)VdpaCommand.DeviceNew, 1, Dump: false, "vdpa DEV_NEW");

    [Fact]
    public void AStopThatLandsAsTheSendReturnsStillNamesTheRequestTheKernelRan()
    {
        // The kernel ran DEV_NEW (its send returned) just as the wait saw the stop: the caller must learn which request it
        // was, to undo it. Before the fix, a send that had completed by then let a bare OperationCanceledException out, and
        // the device the kernel made was never removed. The race is made certain here: on the waiting thread, the send is let
        // finish, then the stop is seen.
        var interval = NetlinkConnection.NoticeInterval;
        NetlinkConnection.NoticeInterval = TimeSpan.FromMilliseconds(20);
        try
        {
            using var stop = new CancellationTokenSource();
            var kernel = new ScriptedKernel { HoldFirstSend = true };
            using var connection = new NetlinkConnection(kernel, initialSequence: 1, cancellation: stop.Token);
            connection.Waiting += (_, _) =>
            {
                kernel.ReleaseSend.Set();
                Assert.True(kernel.HeldSendDone.Wait(TimeSpan.FromSeconds(10)));
                SpinWait.SpinUntil(() => kernel.SendReturned, TimeSpan.FromSeconds(10));
                Thread.Sleep(50); // the worker's task completes after Send returns
                stop.Cancel();
                stop.Token.ThrowIfCancellationRequested();
            };
            var e = Assert.ThrowsAny<OperationCanceledException>(() => connection.Execute(DevNew, w => w.WriteString(VdpaAttribute.DeviceName, "d0"), null));
            var canceled = Assert.IsType<NetlinkRequestCanceledException>(e);
            Assert.Equal(2u, canceled.Sequence);
            Assert.Equal(1, kernel.SendCount);

            // Its answer is there to read, without waiting for a send.
            kernel.Replies.Add(CancellationTests.Ack(2, kernel.PortId));
            Assert.Equal(0, connection.Resume(canceled, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).ReplyCount);
        }
        finally
        {
            NetlinkConnection.NoticeInterval = interval;
        }
    }

    [Fact]
    public void AStopBeforeAnythingIsSentSendsNothing()
    {
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var kernel = new ScriptedKernel();
        using var connection = new NetlinkConnection(kernel, cancellation: stop.Token);
        var e = Assert.ThrowsAny<OperationCanceledException>(() => connection.Execute(DevNew, null, null));
        Assert.IsNotType<NetlinkRequestCanceledException>(e);
        Assert.Equal(0, kernel.SendCount);
    }

    [Fact]
    public async Task AResumeStoppedBeforeTheHeldSendReturnsKeepsItsBufferFromTheNextRequest()
    {
        using var stop = new CancellationTokenSource();
        var kernel = new ScriptedKernel { HoldFirstSend = true };
        using var connection = new NetlinkConnection(kernel, initialSequence: 1, cancellation: stop.Token);
        var worker = Task.Run(() => connection.Execute(DevNew, w => w.WriteString(VdpaAttribute.DeviceName, "first-device"), null));
        Assert.True(kernel.InSend.Wait(TimeSpan.FromSeconds(10)));
        stop.Cancel();
        var canceled = Assert.Throws<NetlinkRequestCanceledException>(() => worker.GetAwaiter().GetResult());

        // Resume gives up (its own stop) while the kernel still holds the first send.
        using var resumeStop = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.ThrowsAny<OperationCanceledException>(() => connection.Resume(canceled, resumeStop.Token));

        // The next request must not write into the buffer the held send is still reading.
        connection.Cancellation = CancellationToken.None;
        kernel.Replies.Add(CancellationTests.Ack(3, kernel.PortId));
        var next = new GenericRequest(Vdpa.Id, (byte)VdpaCommand.DeviceDelete, 1, Dump: false, "vdpa DEV_DEL");
        var second = Task.Run(() => connection.Execute(next, w => w.WriteString(VdpaAttribute.DeviceName, "x"), null));
        Assert.True(kernel.SecondSend.Wait(TimeSpan.FromSeconds(10)));
        kernel.ReleaseSend.Set();
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(kernel.HeldSendDone.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(kernel.Sent[0], kernel.HeldSendSawAtItsEnd);
        Assert.Equal((byte)VdpaCommand.DeviceNew, kernel.HeldSendSawAtItsEnd![16]);
    }

    [Fact]
    public void AStoppedCreateTheKernelCompletedIsRemovedOnTheCallersThread()
    {
        var (client, kernel, canceled) = StoppedCreate();
        using (client)
        {
            kernel.OnSend = (request, k) => k.Replies.Add(CancellationTests.Ack(Sequence(request), k.PortId)); // DEV_DEL: done
            kernel.Replies.Add(CancellationTests.Ack(canceled.Sequence, kernel.PortId)); // DEV_NEW's late ack
            var outcome = client.FinishStoppedCreate(canceled, "d0", TimeSpan.FromSeconds(10));
            Assert.Equal(VdpaStoppedCreateOutcome.Removed, outcome.Outcome);
            Assert.Equal((byte)VdpaCommand.DeviceDelete, kernel.Sent[^1][16]);
        }
    }

    [Fact]
    public void AStoppedCreateTheKernelRefusedRemovesNothing()
    {
        var (client, kernel, canceled) = StoppedCreate();
        using (client)
        {
            kernel.Replies.Add(CancellationTests.Ack(canceled.Sequence, kernel.PortId, -LinuxErrno.EEXIST));
            var outcome = client.FinishStoppedCreate(canceled, "d0", TimeSpan.FromSeconds(10));
            Assert.Equal(VdpaStoppedCreateOutcome.NotCreated, outcome.Outcome);
            Assert.Equal(1, kernel.SendCount);
        }
    }

    [Fact]
    public void AStoppedCreateWithoutAnAnswerInTimeIsUnknownNotARefusal()
    {
        // The kernel may still make the device: the caller must say so, not report that nothing was made.
        var (client, kernel, canceled) = StoppedCreate();
        using (client)
        {
            var watch = Stopwatch.StartNew();
            var outcome = client.FinishStoppedCreate(canceled, "d0", TimeSpan.FromMilliseconds(300));
            Assert.Equal(VdpaStoppedCreateOutcome.Unknown, outcome.Outcome);
            Assert.InRange(watch.Elapsed.TotalSeconds, 0.25, 5);
            Assert.Equal(1, kernel.SendCount);

            // A receive that timed out (the socket's own limit) is no refusal either.
            var (other, otherKernel, otherCanceled) = StoppedCreate();
            using (other)
            {
                otherKernel.TimeOutReceives = true;
                Assert.Equal(VdpaStoppedCreateOutcome.Unknown, other.FinishStoppedCreate(otherCanceled, "d0", TimeSpan.FromSeconds(10)).Outcome);
            }
        }
    }

    [Fact]
    public void AStopDuringTheBlockCheckOfAConfigRequestIsAStopNotTheKernelsRefusal()
    {
        // 6.1 answers DEV_CONFIG_GET of a block device with EOPNOTSUPP; the client then asks DEV_GET whether it is one. A
        // stop during that DEV_GET must end the command: in an exception filter it was swallowed, and the EOPNOTSUPP thrown.
        using var stop = new CancellationTokenSource();
        var kernel = new ScriptedKernel();
        kernel.OnSend = (request, k) =>
        {
            if (request[16] == (byte)VdpaCommand.DeviceConfigGet)
            {
                k.Replies.Add(CancellationTests.Ack(Sequence(request), k.PortId, -LinuxErrno.EOPNOTSUPP));
            }
            else
            {
                stop.Cancel(); // Ctrl+C while DEV_GET waits; the kernel never answers it.
            }
        };
        using var client = new VdpaClient(new NetlinkConnection(kernel, cancellation: stop.Token), Vdpa, ownsConnection: true);
        Assert.False(client.Capabilities.Supports(VdpaCapability.BlockConfig));
        var e = Assert.ThrowsAny<OperationCanceledException>(() => client.GetConfig("b0"));
        Assert.Equal("vdpa DEV_GET", Assert.IsType<NetlinkRequestCanceledException>(e).Request.Operation);
    }

    [Fact]
    public async Task AWaitForTheKernelIsNoticedEveryIntervalOnTheWaitingThread()
    {
        // The kernel holds the request in send() (vdpa's lock), then answers late: the caller hears of the wait meanwhile.
        var interval = NetlinkConnection.NoticeInterval;
        NetlinkConnection.NoticeInterval = TimeSpan.FromMilliseconds(100);
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var kernel = new ScriptedKernel { HoldFirstSend = true };
            using var connection = new NetlinkConnection(kernel, initialSequence: 1, cancellation: stop.Token);
            var notices = new List<(string Operation, TimeSpan Waited, int Thread)>();
            connection.Waiting += (request, waited) => notices.Add((request.Operation, waited, Environment.CurrentManagedThreadId));
            var caller = 0;
            var worker = Task.Run(() =>
            {
                caller = Environment.CurrentManagedThreadId;
                return connection.Execute(DevNew, null, null);
            });
            Assert.True(kernel.InSend.Wait(TimeSpan.FromSeconds(10)));
            Thread.Sleep(450);
            kernel.Replies.Add(CancellationTests.Ack(2, kernel.PortId));
            kernel.ReleaseSend.Set();
            await worker.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.InRange(notices.Count, 2, 20);
            Assert.All(notices, n => Assert.Equal("vdpa DEV_NEW", n.Operation));
            Assert.All(notices, n => Assert.Equal(caller, n.Thread));
            Assert.True(notices[^1].Waited > notices[0].Waited);
        }
        finally
        {
            NetlinkConnection.NoticeInterval = interval;
        }
    }

    [Fact]
    public void AReceiveOnARealSocketIsNoticedThenTimesOutAsTheRequestItWaitedFor()
    {
        var interval = NetlinkConnection.NoticeInterval;
        NetlinkConnection.NoticeInterval = TimeSpan.FromMilliseconds(100);
        try
        {
            using var socket = NetlinkSocket.Open(receiveTimeout: TimeSpan.FromMilliseconds(550));
            var buffer = new byte[64];
            var notices = 0;
            var e = Assert.Throws<NetlinkSocketException>(() => socket.Receive(ref buffer, CancellationToken.None, _ => notices++));
            Assert.Equal(LinuxErrno.ETIMEDOUT, e.Errno);
            Assert.InRange(notices, 3, 6);

            // Through a connection the timeout names the request, and the map says what may hold the kernel, not an errno.
            using var connection = new NetlinkConnection(new ScriptedKernel { TimeOutReceives = true });
            var get = new GenericRequest(Vdpa.Id, (byte)VdpaCommand.DeviceGet, 1, Dump: false, "vdpa DEV_GET");
            var timeout = Assert.Throws<NetlinkTimeoutException>(() => connection.Execute(get, null, null));
            var said = VdpaErrorMap.Explain(timeout, "d0", VdpaTargetKind.Device);
            Assert.Equal(VdpaErrorKind.TimedOut, said.Kind);
            Assert.StartsWith("The kernel did not answer vdpa DEV_GET for vDPA device 'd0' within 1 s: ", said.Message);
            Assert.DoesNotContain("ETIMEDOUT", said.Message);
        }
        finally
        {
            NetlinkConnection.NoticeInterval = interval;
        }
    }

    [DllImport("libc.so.6")]
    private static extern nuint pthread_self();

    [DllImport("libc.so.6")]
    private static extern int pthread_kill(nuint thread, int signal);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task AWaitInterruptedByASignalGoesOnWaiting()
    {
        // A child's exit (SIGCHLD) interrupts poll() with EINTR, which is retried. Tmds.LibC's poll keeps no errno, so the
        // last failed call's errno (EAGAIN from draining the eventfd) was read: Watch-VdpaDevice failed "poll failed: EAGAIN".
        const int SigChld = 17;
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => { });
        using var socket = NetlinkSocket.Open();
        using var stop = new CancellationTokenSource();
        nuint thread = 0;
        using var waiting = new ManualResetEventSlim();
        var worker = Task.Factory.StartNew(() =>
        {
            thread = pthread_self();
            waiting.Set();
            var buffer = new byte[64];
            return Record.Exception(() => socket.Receive(ref buffer, stop.Token));
        }, TaskCreationOptions.LongRunning);
        Assert.True(waiting.Wait(TimeSpan.FromSeconds(10)));
        for (var i = 0; i < 10; i++)
        {
            Thread.Sleep(30);
            Assert.Equal(0, pthread_kill(thread, SigChld));
        }

        stop.Cancel();
        Assert.IsAssignableFrom<OperationCanceledException>(await worker.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static uint Sequence(byte[] request) => BitConverter.ToUInt32(request, 8);

    /// <summary>A client whose DEV_NEW was stopped while the kernel still ran it (the send had returned: the ack waits).</summary>
    private static (VdpaClient Client, ScriptedKernel Kernel, NetlinkRequestCanceledException Canceled) StoppedCreate()
    {
        var stop = new CancellationTokenSource();
        var kernel = new ScriptedKernel { OnSend = (_, _) => { } };
        var client = new VdpaClient(new NetlinkConnection(kernel, initialSequence: 10, cancellation: stop.Token), Vdpa, ownsConnection: true);
        kernel.OnReceive = () => stop.Cancel(); // Ctrl+C while the ack is awaited
        var canceled = Assert.Throws<NetlinkRequestCanceledException>(() => client.CreateDevice(new VdpaDeviceSpec { Name = "d0", Parent = "vduse" }));
        kernel.OnReceive = null;
        return (client, kernel, canceled);
    }

    /// <summary>A kernel a test scripts: what a send does, replies queued for receives, a send held as a handler in send() is.</summary>
    private sealed class ScriptedKernel : INetlinkTransport
    {
        private int _sends;

        public uint PortId => 4343;

        public Action<byte[], ScriptedKernel>? OnSend { get; set; }

        public Action? OnReceive { get; set; }

        public BlockingCollection<byte[]> Replies { get; } = [];

        public List<byte[]> Sent { get; } = [];

        public int SendCount => Volatile.Read(ref _sends);

        /// <summary>The first send waits for <see cref="ReleaseSend"/>, reading its datagram again when it returns.</summary>
        public bool HoldFirstSend { get; init; }

        public bool TimeOutReceives { get; set; }

        public ManualResetEventSlim InSend { get; } = new();

        public ManualResetEventSlim ReleaseSend { get; } = new();

        public ManualResetEventSlim SecondSend { get; } = new();

        public ManualResetEventSlim HeldSendDone { get; } = new();

        public byte[]? HeldSendSawAtItsEnd { get; private set; }

        public volatile bool SendReturned;

        public void Send(ReadOnlySpan<byte> datagram)
        {
            var number = Interlocked.Increment(ref _sends);
            lock (Sent)
            {
                Sent.Add(datagram.ToArray());
            }

            if (number == 1 && HoldFirstSend)
            {
                InSend.Set();
                ReleaseSend.Wait(TimeSpan.FromSeconds(30));
                HeldSendSawAtItsEnd = datagram.ToArray();
                HeldSendDone.Set();
                SendReturned = true;
                return;
            }

            if (number == 2)
            {
                SecondSend.Set();
            }

            OnSend?.Invoke(datagram.ToArray(), this);
        }

        public int Receive(ref byte[] buffer) => Receive(ref buffer, CancellationToken.None);

        public int Receive(ref byte[] buffer, CancellationToken cancellation)
        {
            OnReceive?.Invoke();
            if (TimeOutReceives)
            {
                throw new NetlinkSocketException("receive (timed out waiting for the kernel)", LinuxErrno.ETIMEDOUT) { Waited = TimeSpan.FromSeconds(1) };
            }

            var reply = Replies.Take(cancellation);
            if (reply.Length > buffer.Length)
            {
                buffer = new byte[reply.Length];
            }

            reply.CopyTo(buffer, 0);
            return reply.Length;
        }

        public void Dispose()
        {
        }
    }
}

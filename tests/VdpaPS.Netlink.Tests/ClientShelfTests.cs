using System.Buffers.Binary;
using System.Collections.Concurrent;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// The client a runspace keeps between commands: reused while its connection is in step with the kernel, closed after a
/// cancelled request or a socket error, never lent to two commands or two owners at once.
/// </summary>
public sealed class ClientShelfTests
{
    private static readonly GenericNetlinkFamily Vdpa = new("vdpa", 0x23, 1, 0, 40, [], []);
    private static readonly GenericRequest DevGet = new(Vdpa.Id, 3, 1, Dump: false, "vdpa DEV_GET");

    private readonly ConcurrentBag<Kernel> _opened = [];

    private VdpaClientShelf NewShelf() => new(cancellation =>
    {
        var kernel = new Kernel();
        _opened.Add(kernel);
        return new VdpaClient(new NetlinkConnection(kernel, cancellation: cancellation), Vdpa, ownsConnection: true);
    });

    [Fact]
    public void AnOwnersNextCommandGetsTheClientItsLastCommandGaveBack()
    {
        var shelf = NewShelf();
        var runspace = new object();
        using var stop = new CancellationTokenSource();
        var first = shelf.Take(runspace, stop.Token);
        first.Connection.Execute(DevGet, null, null);
        shelf.Return(runspace, first);

        using var next = new CancellationTokenSource();
        var second = shelf.Take(runspace, next.Token);
        Assert.Same(first, second);
        Assert.Single(_opened);
        // The client now serves the next command: its stop token, not the last one's.
        Assert.Equal(next.Token, second.Connection.Cancellation);
        second.Connection.Execute(DevGet, null, null);
        Assert.Equal(2, _opened.Single().Sends);
    }

    [Fact]
    public void AClientIsLentToOneCommandAtATimeAndOwnersNeverShareOne()
    {
        var shelf = NewShelf();
        var runspace = new object();
        var taken = shelf.Take(runspace);
        // A second command of the same runspace meanwhile (a pipeline's next cmdlet), and another runspace: each its own.
        var meanwhile = shelf.Take(runspace);
        var other = shelf.Take(new object());
        Assert.NotSame(taken, meanwhile);
        Assert.NotSame(taken, other);
        Assert.NotSame(meanwhile, other);

        // The runspace keeps one idle client; the other one given back is closed.
        shelf.Return(runspace, taken);
        shelf.Return(runspace, meanwhile);
        Assert.Equal(1, _opened.Count(k => k.Disposed));

        // The kept client goes to the first command that asks; the next one while it is out gets a new one.
        Assert.Same(taken, shelf.Take(runspace));
        Assert.NotSame(taken, shelf.Take(runspace));
    }

    [Fact]
    public void RunspacesOnParallelThreadsEachReadOnlyTheirOwnReplies()
    {
        var shelf = NewShelf();
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            var runspace = new object();
            for (var i = 0; i < 50; i++)
            {
                var client = shelf.Take(runspace);
                // A reply that answered another thread's request would carry another sequence number and be refused.
                client.Connection.Execute(DevGet, null, null);
                shelf.Return(runspace, client);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(4, _opened.Count);
        Assert.All(_opened, kernel =>
        {
            Assert.Equal(50, kernel.Sends);
            Assert.Single(kernel.Threads);
        });
        Assert.Equal(4, _opened.SelectMany(k => k.Threads).Distinct().Count());
    }

    [Fact]
    public void AClientWhoseRequestWasStoppedIsClosedAndItsLateAnswerReachesNoLaterCommand()
    {
        var shelf = NewShelf();
        var runspace = new object();
        using var stop = new CancellationTokenSource();
        var stopped = shelf.Take(runspace, stop.Token);
        var kernel = _opened.Single();
        kernel.Silent = true;
        var request = Task.Run(() => stopped.Connection.Execute(DevGet, null, null));
        Assert.True(kernel.Received.Wait(TimeSpan.FromSeconds(10)));
        stop.Cancel();
        var canceled = Assert.Throws<NetlinkRequestCanceledException>(() => request.GetAwaiter().GetResult());
        Assert.False(stopped.Connection.Synchronized);

        shelf.Return(runspace, stopped);
        Assert.True(kernel.Disposed);
        // The kernel answers the stopped request late, on that socket only.
        kernel.Answer(canceled.Sequence);

        var next = shelf.Take(runspace);
        Assert.NotSame(stopped, next);
        Assert.Equal(2, _opened.Count);
        Assert.Equal(0, next.Connection.Execute(DevGet, null, null).ReplyCount);
        Assert.True(next.Connection.Synchronized);
    }

    [Fact]
    public void ASocketErrorPoisonsTheClientAndTheNextCommandOpensANewOne()
    {
        var shelf = NewShelf();
        var runspace = new object();
        var client = shelf.Take(runspace);
        _opened.Single().FailReceive = true;
        Assert.Throws<NetlinkSocketException>(() => client.Connection.Execute(DevGet, null, null));
        shelf.Return(runspace, client);

        Assert.True(_opened.Single().Disposed);
        Assert.NotSame(client, shelf.Take(runspace));
        Assert.Equal(2, _opened.Count);
    }

    [Fact]
    public void AKernelRefusalLeavesTheClientInStepAndKept()
    {
        var shelf = NewShelf();
        var runspace = new object();
        var client = shelf.Take(runspace);
        _opened.Single().Errno = LinuxErrno.ENODEV;
        Assert.Equal(LinuxErrno.ENODEV, Assert.Throws<NetlinkException>(() => client.Connection.Execute(DevGet, null, null)).Errno);
        Assert.True(client.Connection.Synchronized);
        shelf.Return(runspace, client);

        Assert.Same(client, shelf.Take(runspace));
        Assert.False(_opened.Single().Disposed);
    }

    [Fact]
    public void ClosingAnOwnerClosesItsIdleClient()
    {
        var shelf = NewShelf();
        var runspace = new object();
        var client = shelf.Take(runspace);
        shelf.Return(runspace, client);
        shelf.Close(runspace);
        Assert.True(_opened.Single().Disposed);
        Assert.NotSame(client, shelf.Take(runspace));
    }

    [Fact]
    public void AKeptClientTakesTheFamilyAsTheCacheHasItWhenTaken()
    {
        // What a new client of the command would resolve: another client's new resolution (after a reload), or the
        // cache's test seam standing in an older kernel.
        var cache = new GenericFamilyCache();
        cache.Remember(Vdpa);
        var shelf = new VdpaClientShelf(cancellation =>
        {
            var kernel = new Kernel();
            _opened.Add(kernel);
            return new VdpaClient(new NetlinkConnection(kernel, cancellation: cancellation), cache, ownsConnection: true);
        });
        var runspace = new object();
        var client = shelf.Take(runspace);
        Assert.Same(Vdpa, client.Family);
        shelf.Return(runspace, client);

        var older = Vdpa with { Id = 0x24, MaxAttribute = 13 };
        cache.Remember(older);
        var kept = shelf.Take(runspace);
        Assert.Same(client, kept);
        Assert.Same(older, kept.Family);
        Assert.False(kept.SupportsAttribute(VdpaAttribute.NetConfigMtu));
        shelf.Return(runspace, kept);

        cache.Remember(Vdpa);
        Assert.True(shelf.Take(runspace).SupportsAttribute(VdpaAttribute.NetConfigMtu));
        Assert.Single(_opened);
    }

    /// <summary>Answers each request with an ACK of its sequence number (or the errno set), from the thread that asks.</summary>
    private sealed class Kernel : INetlinkTransport
    {
        private readonly BlockingCollection<byte[]> _replies = [];

        public uint PortId => 4242;

        public volatile bool Silent;

        public volatile bool FailReceive;

        public int Errno;

        public int Sends;

        public volatile bool Disposed;

        public ConcurrentDictionary<int, bool> ThreadSet { get; } = new();

        public IEnumerable<int> Threads => ThreadSet.Keys;

        public ManualResetEventSlim Received { get; } = new();

        public void Send(ReadOnlySpan<byte> datagram)
        {
            Interlocked.Increment(ref Sends);
            Received.Set();
            if (!Silent)
            {
                Answer(BinaryPrimitives.ReadUInt32LittleEndian(datagram[8..]));
            }
        }

        public void Answer(uint sequence) => _replies.Add(CancellationTests.Ack(sequence, PortId, -Errno));

        public int Receive(ref byte[] buffer) => Receive(ref buffer, CancellationToken.None);

        public int Receive(ref byte[] buffer, CancellationToken cancellation)
        {
            // The thread that reads the reply is the command's own (a send may run on a worker).
            ThreadSet[Environment.CurrentManagedThreadId] = true;
            if (FailReceive)
            {
                throw new NetlinkSocketException("receive", LinuxErrno.EIO);
            }

            var reply = _replies.Take(cancellation);
            reply.CopyTo(buffer, 0);
            return reply.Length;
        }

        public void Dispose() => Disposed = true;
    }
}

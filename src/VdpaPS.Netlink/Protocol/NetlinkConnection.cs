using System.Buffers.Binary;
using System.Security.Cryptography;
using static VdpaPS.Netlink.Protocol.NetlinkConstants;

namespace VdpaPS.Netlink.Protocol;

/// <summary>What a generic netlink request is: family, command, version, dump or not, and a name for errors and traces.</summary>
public readonly record struct GenericRequest(ushort Family, byte Command, byte Version, bool Dump, string Operation);

/// <summary>Called once for every reply message: the generic command and the attributes after the generic header.</summary>
internal delegate void GenericReplyHandler(byte command, ReadOnlySpan<byte> attributes);

/// <summary>Writes a request's attributes.</summary>
internal delegate void RequestAttributeWriter(NetlinkMessageWriter writer);

/// <summary>The kernel's acknowledgement: a request succeeded, possibly with a warning in its extended ack.</summary>
internal readonly record struct NetlinkAcknowledgement(string? Warning, int ReplyCount);

/// <summary>One request and its replies at a time over one transport: sequence and port checks, dumps, extended acks.</summary>
/// <remarks>Thread-safe: requests from several threads are serialized, so a reply always reaches the request it answers.</remarks>
internal sealed class NetlinkConnection : IDisposable
{
    private const int InitialReceiveBuffer = 32 * 1024;
    private readonly INetlinkTransport _transport;
    private NetlinkMessageWriter _writer = new();
    private readonly Lock _gate = new();
    private byte[] _receiveBuffer = new byte[InitialReceiveBuffer];
    private uint _sequence;

    // A do request's send that a cancellation left running on its worker (see SendCancellable).
    private Task? _sendInFlight;

    public NetlinkConnection(INetlinkTransport transport, uint? initialSequence = null, CancellationToken cancellation = default)
    {
        _transport = transport;
        Cancellation = cancellation;
        // A random start makes a stale reply from an earlier socket's request with the same port id unlikely to match.
        _sequence = initialSequence ?? (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
    }

    /// <summary>Opens a NETLINK_GENERIC socket.</summary>
    public static NetlinkConnection OpenGeneric(TimeSpan? receiveTimeout = null, CancellationToken cancellation = default) =>
        new(NetlinkSocket.Open(NetlinkConstants.NetlinkGeneric, receiveTimeout), cancellation: cancellation);

    public uint PortId => _transport.PortId;

    /// <summary>Ends every wait for the kernel when cancelled (a cmdlet's StopProcessing): Execute then throws <see cref="NetlinkRequestCanceledException"/>.</summary>
    /// <remarks>Set by whoever uses the connection now: a connection kept for a runspace serves one command after another.</remarks>
    public CancellationToken Cancellation { get; set; }

    /// <summary>
    /// True while nothing of an earlier request can still arrive: every request so far was answered to its last message
    /// (an ACK, the kernel's error, a dump's DONE). False after a cancellation, a socket or protocol error, or an
    /// exception in a reply handler: such a connection is closed, not kept for the next command.
    /// </summary>
    public bool Synchronized { get; private set; } = true;

    /// <summary>Raised after every request with a one-line description of what was sent and what came back (for -Verbose).</summary>
    public event Action<string>? Trace;

    /// <summary>Sends one request and passes each reply message to <paramref name="onReply"/>.</summary>
    /// <exception cref="NetlinkException">The kernel refused the request; carries its errno and extended-ack text.</exception>
    /// <exception cref="DumpInterruptedException">A dump's state changed while it was read.</exception>
    public NetlinkAcknowledgement Execute(in GenericRequest request, RequestAttributeWriter? attributes, GenericReplyHandler? onReply)
    {
        lock (_gate)
        {
            // Stopped before anything was sent: the kernel knows nothing of this request.
            Cancellation.ThrowIfCancellationRequested();

            // Cleared until the answer is read to its end (ReceiveReplies sets it), so any way out before that leaves it false.
            Synchronized = false;
            if (_sendInFlight is { IsCompleted: false })
            {
                // A cancelled request's send may not have reached the kernel yet, and it reads the writer's buffer.
                _writer = new NetlinkMessageWriter();
            }

            var sequence = NextSequence();
            var flags = (ushort)(FlagRequest | (request.Dump ? FlagDump : FlagAck));
            _writer.BeginGeneric(request.Family, flags, request.Command, request.Version);
            attributes?.Invoke(_writer);
            _writer.Finish(sequence, 0);
            if (Cancellation.CanBeCanceled)
            {
                SendCancellable(request, sequence);
            }
            else
            {
                _transport.Send(_writer.Written);
            }

            var requestLength = _writer.Length;
            try
            {
                var ack = ReceiveReplies(request, sequence, onReply, Cancellation, NoticeFor(request));
                Trace?.Invoke($"{request.Operation}: sent {requestLength} bytes (seq {sequence}{(request.Dump ? ", dump" : string.Empty)}); " +
                    $"received {ack.ReplyCount} repl{(ack.ReplyCount == 1 ? "y" : "ies")}" + (ack.Warning is null ? "." : $", warning: {ack.Warning}"));
                return ack;
            }
            catch (NetlinkException e) when (Trace is not null)
            {
                Trace.Invoke($"{request.Operation}: sent {requestLength} bytes (seq {sequence}); failed: {e.Message}");
                throw;
            }
            catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
            {
                // The kernel has the request and will still act on it: the caller learns which one, to finish it later.
                throw new NetlinkRequestCanceledException(request, sequence);
            }
        }
    }

    /// <summary>
    /// Netlink runs a do request's handler, and a dump's first part, inside the sender's own send() call, and a handler can
    /// wait long (a VDUSE parent without its daemon holds DEV_NEW for its message timeout): the send goes to a worker, so
    /// a cancellation ends this wait at once. The kernel still finishes the request; <see cref="Resume"/> waits for that
    /// send before it reads.
    /// </summary>
    /// <remarks>
    /// Every vdpa request can wait there, not only DEV_NEW and DEV_DEL: each handler takes vdpa_dev_lock (a read lock for
    /// DEV_GET and the dumps) and the family runs under the generic netlink mutex, both of which a DEV_NEW held by VDUSE
    /// keeps. The worker costs a few microseconds a request (CallBenchmarks), little beside a command's cost in pwsh.
    /// </remarks>
    private void SendCancellable(in GenericRequest request, uint sequence)
    {
        // The worker reads this writer's buffer, not a copy: the next request takes a new writer if this send is still
        // running then.
        var writer = _writer;
        var send = Task.Run(() => _transport.Send(writer.Written));
        try
        {
            WaitForSend(send, Cancellation, NoticeFor(request));
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            // Stopped while the send ran, or just as it returned: either way the kernel has the request and acts on it,
            // so the caller must learn which one (a DEV_NEW to undo). Only a send that failed reached nothing.
            if (send.IsFaulted)
            {
                send.GetAwaiter().GetResult();
            }

            var stopped = new NetlinkRequestCanceledException(request, sequence);
            if (!send.IsCompleted)
            {
                _sendInFlight = send;
                PendingRequests.Add(stopped, send);
            }

            throw stopped;
        }
    }

    /// <summary>
    /// Waits for a send on a worker; its own exception (a NetlinkSocketException) is thrown as it is, not wrapped. While
    /// it waits, <paramref name="notice"/> hears how long it has been, every <see cref="NoticeInterval"/>.
    /// </summary>
    private static void WaitForSend(Task send, CancellationToken cancellation, Action<TimeSpan>? notice)
    {
        var started = Environment.TickCount64;
        try
        {
            while (!send.Wait(notice is null ? Timeout.InfiniteTimeSpan : NoticeInterval, cancellation))
            {
                notice!(TimeSpan.FromMilliseconds(Environment.TickCount64 - started));
            }
        }
        catch (AggregateException)
        {
            // Rethrown unwrapped below.
        }

        send.GetAwaiter().GetResult();
    }

    /// <summary>How often <see cref="Waiting"/> is raised while the kernel has not answered.</summary>
    public static TimeSpan NoticeInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Raised on the waiting thread while a request waits for the kernel longer than <see cref="NoticeInterval"/> (and then
    /// again every interval): the request, and how long it has waited. The kernel holds every vdpa request while a VDUSE
    /// device's daemon does not answer, so a caller can say what it waits for, and why.
    /// </summary>
    public event Action<GenericRequest, TimeSpan>? Waiting;

    private Action<TimeSpan>? NoticeFor(GenericRequest request) =>
        Waiting is { } waiting ? elapsed => waiting(request, elapsed) : null;

    /// <summary>
    /// Waits again for the answer to a request whose wait was cancelled (the kernel went on with it), up to the receive
    /// timeout or until <paramref name="cancellation"/> is cancelled. Replies to it are not decoded: only the outcome counts.
    /// </summary>
    /// <exception cref="NetlinkException">The kernel refused the request after all.</exception>
    public NetlinkAcknowledgement Resume(NetlinkRequestCanceledException canceled, CancellationToken cancellation = default)
    {
        lock (_gate)
        {
            if (_sendInFlight is { } send)
            {
                // The kernel answers once its handler returns from the send it was stopped in. The guard stays until the
                // worker is done with the writer's buffer: a Resume stopped before that leaves it for the next request.
                try
                {
                    WaitForSend(send, cancellation, NoticeFor(canceled.Request));
                }
                finally
                {
                    if (send.IsCompleted)
                    {
                        _sendInFlight = null;
                    }
                }
            }

            return ReceiveReplies(canceled.Request, canceled.Sequence, null, cancellation, NoticeFor(canceled.Request));
        }
    }

    /// <summary>
    /// Sends a dump request and passes every reply to <paramref name="onReply"/>, restarted from the beginning (up to
    /// <paramref name="attempts"/> times, <paramref name="restart"/> first) when the kernel reports it was interrupted; returns the acknowledgement.
    /// </summary>
    public NetlinkAcknowledgement ExecuteDump(in GenericRequest request, RequestAttributeWriter? attributes, Action restart, GenericReplyHandler onReply, int attempts = 3)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Execute(request, attributes, onReply);
            }
            catch (DumpInterruptedException) when (attempt < attempts)
            {
                restart();
            }
        }
    }

    private uint NextSequence()
    {
        _sequence = unchecked(_sequence + 1);
        if (_sequence == 0)
        {
            _sequence = 1;
        }

        return _sequence;
    }

    private NetlinkAcknowledgement ReceiveReplies(in GenericRequest request, uint sequence, GenericReplyHandler? onReply, CancellationToken cancellation,
        Action<TimeSpan>? notice)
    {
        var interrupted = false;
        var replies = 0;
        while (true)
        {
            int length;
            try
            {
                length = _transport.Receive(ref _receiveBuffer, cancellation, notice);
            }
            catch (NetlinkSocketException e) when (e.Errno == LinuxErrno.ETIMEDOUT)
            {
                // Which request went unanswered, not which socket call: what held it up is the caller's to say.
                throw new NetlinkTimeoutException(request, e.Waited ?? TimeSpan.Zero, e);
            }

            var datagram = new ReadOnlySpan<byte>(_receiveBuffer, 0, length);
            while (!datagram.IsEmpty)
            {
                if (datagram.Length < MessageHeaderSize)
                {
                    throw new NetlinkProtocolException($"{datagram.Length} bytes left in a datagram, less than a message header.", request.Operation);
                }

                var messageLength = BinaryPrimitives.ReadUInt32LittleEndian(datagram);
                if (messageLength < MessageHeaderSize || messageLength > (uint)datagram.Length)
                {
                    throw new NetlinkProtocolException($"A message claims {messageLength} bytes with {datagram.Length} in the datagram.", request.Operation);
                }

                var message = datagram[..(int)messageLength];
                datagram = datagram[Math.Min(Align((int)messageLength), datagram.Length)..];
                var type = BinaryPrimitives.ReadUInt16LittleEndian(message[4..]);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(message[6..]);
                var messageSequence = BinaryPrimitives.ReadUInt32LittleEndian(message[8..]);
                var portId = BinaryPrimitives.ReadUInt32LittleEndian(message[12..]);

                if (portId != _transport.PortId)
                {
                    throw new NetlinkProtocolException($"A reply for port {portId} reached port {_transport.PortId}.", request.Operation);
                }

                if (messageSequence != sequence)
                {
                    // The rest of an earlier request that was abandoned mid-way (an exception in a reply handler):
                    // it answers nothing we are waiting for, so it is dropped.
                    continue;
                }

                if ((flags & FlagDumpInterrupted) != 0)
                {
                    interrupted = true;
                }

                var body = message[MessageHeaderSize..];
                switch (type)
                {
                    case MessageTypeNoop:
                        continue;
                    case MessageTypeError:
                    {
                        var (errno, extAck) = ReadError(body, flags, request.Operation, afterEcho: true);
                        Synchronized = true; // the request's last message, whether the kernel agreed or refused
                        if (errno != 0)
                        {
                            throw extAck.ToException(errno, request);
                        }

                        return new NetlinkAcknowledgement(extAck.Message, replies);
                    }

                    case MessageTypeDone:
                    {
                        if (!request.Dump)
                        {
                            throw new NetlinkProtocolException("A DONE message answered a request that was not a dump.", request.Operation);
                        }

                        Synchronized = true;
                        if (body.Length >= 4)
                        {
                            var (errno, extAck) = ReadError(body, flags, request.Operation, afterEcho: false);
                            if (errno != 0)
                            {
                                throw extAck.ToException(errno, request);
                            }
                        }

                        if (interrupted)
                        {
                            throw new DumpInterruptedException(request.Operation);
                        }

                        return new NetlinkAcknowledgement(null, replies);
                    }

                    case MessageTypeOverrun:
                        throw new NetlinkProtocolException("The kernel reported a receive overrun; replies were lost.", request.Operation);
                    case < MessageTypeMinReserved:
                        continue;
                }

                if (type != request.Family)
                {
                    throw new NetlinkProtocolException($"A reply of type {type} answered a request to family {request.Family}.", request.Operation);
                }

                if (body.Length < GenericHeaderSize)
                {
                    throw new NetlinkProtocolException("A reply is shorter than the generic netlink header.", request.Operation);
                }

                replies++;
                onReply?.Invoke(body[0], body[GenericHeaderSize..]);
            }
        }
    }

    private readonly record struct ExtAck(string? Message, int? Offset, int? MissingType)
    {
        public NetlinkException ToException(int errno, in GenericRequest request) =>
            new(errno, Message, Offset, request.Operation, MissingType) { Request = request };
    }

    /// <summary>Reads the errno and the extended-ack attributes of an ERROR or DONE message.</summary>
    private static (int Errno, ExtAck ExtAck) ReadError(ReadOnlySpan<byte> body, ushort flags, string operation, bool afterEcho)
    {
        if (body.Length < 4)
        {
            throw new NetlinkProtocolException("An error message is shorter than its errno.", operation);
        }

        var errno = -BinaryPrimitives.ReadInt32LittleEndian(body);
        if ((flags & FlagAckTlvs) == 0)
        {
            return (errno, default);
        }

        var tlvStart = 4;
        if (afterEcho)
        {
            // The echoed request: only its header when capped, otherwise the whole request.
            if (body.Length < 4 + MessageHeaderSize)
            {
                throw new NetlinkProtocolException("An error message is shorter than the request header it echoes.", operation);
            }

            var echoed = (flags & FlagCapped) != 0 ? MessageHeaderSize : (int)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
            tlvStart = 4 + Align(echoed);
            if (echoed < MessageHeaderSize || tlvStart > body.Length)
            {
                throw new NetlinkProtocolException("An error message's echoed request runs past its end.", operation);
            }
        }

        string? message = null;
        int? offset = null;
        int? missing = null;
        var reader = new NetlinkAttributeReader(body[tlvStart..]);
        while (reader.TryRead(out var attribute))
        {
            switch (attribute.Type)
            {
                case ExtAckMessage:
                    message = attribute.GetString();
                    break;
                case ExtAckOffset when attribute.Payload.Length == 4:
                    offset = (int)attribute.GetU32();
                    break;
                case ExtAckMissingType when attribute.Payload.Length == 4:
                    missing = (int)attribute.GetU32();
                    break;
            }
        }

        return (errno, new ExtAck(message, offset, missing));
    }

    public void Dispose() => _transport.Dispose();
}

/// <summary>
/// This process's requests whose wait was stopped while the kernel still ran them (their send had not returned): each
/// holds what its handler holds (vdpa's lock) until it returns, so a request that waits names them.
/// </summary>
internal static class PendingRequests
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Task, (NetlinkRequestCanceledException Stopped, long Since)> Running = new();

    /// <summary>Keeps the stopped request until its send returns.</summary>
    public static void Add(NetlinkRequestCanceledException stopped, Task send)
    {
        Running[send] = (stopped, Environment.TickCount64);
        send.ContinueWith(static done => Running.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Each stopped request the kernel still runs, and how long ago it was stopped.</summary>
    public static IReadOnlyList<(NetlinkRequestCanceledException Stopped, TimeSpan Age)> Snapshot()
    {
        var now = Environment.TickCount64;
        return [.. Running.Values.Select(r => (r.Stopped, TimeSpan.FromMilliseconds(now - r.Since)))];
    }
}

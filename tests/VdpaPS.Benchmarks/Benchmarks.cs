using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Benchmarks;

/// <summary>Building requests with the connection's reusable writer: the bytes are checked against the recorded requests.</summary>
[MemoryDiagnoser]
public class EncodeBenchmarks
{
    private const ushort FlagsRequestAck = 0x0005;
    private static readonly byte[] Mac = [0x02, 0, 0, 0, 0, 0x11];
    private readonly NetlinkMessageWriter _writer = new();
    private ushort _family;

    [GlobalSetup]
    public void Setup()
    {
        var devNew = Fixtures.VdpaExchange("dev-new-net").Request;
        _family = BinaryPrimitives.ReadUInt16LittleEndian(devNew.AsSpan(4));
        // Benchmarks of the wrong bytes would prove nothing: the writer must build exactly what the kernel was sent.
        Check(devNew, DevNewRequest);
        Check(Fixtures.VdpaExchange("dev-get-net").Request, DevGetRequest);
    }

    /// <summary>DEV_NEW fxnet0 on vdpasim_net with a MAC and an MTU, as New-VdpaDevice -MacAddress -Mtu sends it.</summary>
    [Benchmark]
    public int DevNewRequest()
    {
        _writer.BeginGeneric(_family, FlagsRequestAck, (byte)VdpaCommand.DeviceNew, VdpaFamily.Version);
        _writer.WriteString(VdpaAttribute.DeviceName, "fxnet0");
        _writer.WriteString(VdpaAttribute.ManagementDeviceDeviceName, "vdpasim_net");
        _writer.WriteBytes(VdpaAttribute.NetConfigMacAddress, Mac);
        _writer.WriteU16(VdpaAttribute.NetConfigMtu, 9000);
        _writer.Finish(1, 0);
        return _writer.Length;
    }

    /// <summary>DEV_GET fxnet0, as Get-VdpaDevice -Name sends it.</summary>
    [Benchmark]
    public int DevGetRequest()
    {
        _writer.BeginGeneric(_family, FlagsRequestAck, (byte)VdpaCommand.DeviceGet, VdpaFamily.Version);
        _writer.WriteString(VdpaAttribute.DeviceName, "fxnet0");
        _writer.Finish(1, 0);
        return _writer.Length;
    }

    private void Check(byte[] recorded, Func<int> build)
    {
        build();
        var built = _writer.Written;
        if (built.Length != recorded.Length || !built[..8].SequenceEqual(recorded.AsSpan(0, 8)) || !built[16..].SequenceEqual(recorded.AsSpan(16)))
        {
            throw new InvalidOperationException($"The benchmark builds {Convert.ToHexString(built)}, the recording has {Convert.ToHexString(recorded)}.");
        }
    }
}

/// <summary>The decoders on the attribute bytes of one recorded kernel reply each.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private byte[] _parent = [];
    private byte[] _device = [];
    private byte[] _netConfig = [];
    private byte[] _blockConfig = [];
    private byte[] _queueStatistics = [];

    [GlobalSetup]
    public void Setup()
    {
        _parent = Fixtures.FirstReplyAttributes("mgmtdev-get-vdpasim_net");
        _device = Fixtures.FirstReplyAttributes("dev-get-net");
        _netConfig = Fixtures.FirstReplyAttributes("config-get-net");
        _blockConfig = Fixtures.FirstReplyAttributes("config-get-block");
        _queueStatistics = Fixtures.FirstReplyAttributes("vstats-net-q0");
    }

    [Benchmark]
    public VdpaParent DecodeParent() => VdpaDecoder.DecodeParent(_parent);

    [Benchmark]
    public VdpaDevice DecodeDevice() => VdpaDecoder.DecodeDevice(_device);

    [Benchmark]
    public VdpaDeviceConfig DecodeConfigNet() => VdpaDecoder.DecodeConfig(_netConfig);

    [Benchmark]
    public VdpaDeviceConfig DecodeConfigBlock() => VdpaDecoder.DecodeConfig(_blockConfig);

    [Benchmark]
    public VdpaQueueStatistics DecodeQueueStatistics() => VdpaDecoder.DecodeQueueStatistics(_queueStatistics);
}

/// <summary>Whole requests through NetlinkConnection and VdpaClient, the replies replayed from the recordings.</summary>
[MemoryDiagnoser]
public class RequestBenchmarks
{
    private static readonly VdpaDeviceSpec Spec = new() { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [0x02, 0, 0, 0, 0, 0x11], Mtu = 9000 };
    private VdpaClient _client = null!;

    internal VdpaClient Client => _client;

    [GlobalSetup]
    public void Setup()
    {
        var transport = new LoopReplayTransport(Fixtures.Exchanges("dev-new-net"), Fixtures.Exchanges("dev-get-net"));
        _client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
    }

    [GlobalCleanup]
    public void Cleanup() => _client.Dispose();

    /// <summary>DEV_NEW and its ACK: what New-VdpaDevice sends before it reads the device back.</summary>
    [Benchmark]
    public int CreateDevice() => _client.CreateDevice(Spec).ReplyCount;

    /// <summary>DEV_GET of one device and its reply, decoded: the netlink part of Get-VdpaDevice -Name.</summary>
    [Benchmark]
    public VdpaDevice GetDevice() => _client.GetDevice("fxnet0");
}

/// <summary>
/// The DEV_GET dump through the connection: the recorded two-device dump, and the recorded net device repeated to 256
/// (the lab's scale test). Divide by Devices for the cost per device.
/// </summary>
[MemoryDiagnoser]
public class DumpBenchmarks
{
    private static readonly GenericReplyHandler Ignore = static (_, _) => { };
    private VdpaClient _client = null!;
    private GenericRequest _dump;

    internal VdpaClient Client => _client;

    [Params(2, 256)]
    public int Devices { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var transport = new LoopReplayTransport(Fixtures.DeviceDump(Devices));
        _client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
        _dump = new GenericRequest(_client.Family.Id, (byte)VdpaCommand.DeviceGet, VdpaFamily.Version, Dump: true, "vdpa DEV_GET dump");
        if (_client.GetDevices().Count != Devices)
        {
            throw new InvalidOperationException($"The replayed dump does not hold {Devices} devices.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _client.Dispose();

    /// <summary>VdpaClient.GetDevices(): the dump, every device decoded, in a list.</summary>
    [Benchmark]
    public int GetDevices() => _client.GetDevices().Count;

    /// <summary>The same dump with the replies only walked, not decoded: what framing and checks cost.</summary>
    [Benchmark]
    public int DumpWithoutDecoding() => _client.Connection.Execute(_dump, null, Ignore).ReplyCount;
}

/// <summary>
/// What a cmdlet pays per call around its request: the request sent as a cmdlet sends it (with a stop token, so a do
/// request's send runs on a worker that Ctrl+C does not wait for), and getting a client: the runspace's kept one (taken
/// and given back) against a new socket (opened and closed, real system calls; the family lookup comes on top of it).
/// </summary>
[MemoryDiagnoser]
public class CallBenchmarks
{
    private static readonly VdpaDeviceSpec Spec = new() { Name = "fxnet0", Parent = "vdpasim_net", MacAddress = [0x02, 0, 0, 0, 0, 0x11], Mtu = 9000 };
    private readonly CancellationTokenSource _stop = new();
    private readonly object _runspace = new();
    private VdpaClient _client = null!;
    private VdpaClientShelf _shelf = null!;

    [GlobalSetup]
    public void Setup()
    {
        var transport = new LoopReplayTransport(Fixtures.Exchanges("dev-new-net"), Fixtures.Exchanges("dev-get-net"));
        _client = new VdpaClient(new NetlinkConnection(transport, cancellation: _stop.Token), new GenericFamilyCache(), ownsConnection: true);
        var opened = 0;
        _shelf = new VdpaClientShelf(_ => ++opened == 1 ? _client : throw new InvalidOperationException("The shelf opened a second client."));
        _shelf.Return(_runspace, _shelf.Take(_runspace, _stop.Token));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _stop.Dispose();
    }

    /// <summary>DEV_GET as Get-VdpaDevice -Name sends it: with the command's stop token.</summary>
    [Benchmark]
    public VdpaDevice GetDeviceStoppable() => _client.GetDevice("fxnet0");

    /// <summary>DEV_NEW as New-VdpaDevice sends it: with the command's stop token.</summary>
    [Benchmark]
    public int CreateDeviceStoppable() => _client.CreateDevice(Spec).ReplyCount;

    /// <summary>The runspace's kept client, taken by a command and given back at its end.</summary>
    [Benchmark]
    public void KeptClient() => _shelf.Return(_runspace, _shelf.Take(_runspace, _stop.Token));

    /// <summary>What each command paid before for its own socket: socket, setsockopt, bind, getsockname, close.</summary>
    [Benchmark]
    public void NewSocket() => NetlinkSocket.Open().Dispose();
}

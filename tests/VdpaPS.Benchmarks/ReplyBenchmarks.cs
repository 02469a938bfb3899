using BenchmarkDotNet.Attributes;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Benchmarks;

/// <summary>
/// VdpaReply (payload offsets in an inline array, found through Unsafe.ByteOffset, the read set a 64-bit mask) against
/// the plain way (a dictionary of offsets found with Overlaps, the read set a HashSet): one DEV_GET reply's attributes
/// found, checked and every one read, as a device listing does once a device (issue 25, docs/performance.md).
/// </summary>
[MemoryDiagnoser]
public class ReplyBenchmarks
{
    private byte[] _device = [];
    private ushort[] _types = [];
    private ulong _mask;
    private HashSet<ushort> _set = [];

    [GlobalSetup]
    public void Setup()
    {
        _device = Fixtures.FirstReplyAttributes("dev-get-net");
        var types = new List<ushort>();
        var reader = new NetlinkAttributeReader(_device);
        while (reader.TryRead(out var a))
        {
            types.Add(a.Type);
        }

        _types = [.. types.Distinct()];
        _mask = VdpaReply.Reads(_types);
        _set = [.. _types];
    }

    [Benchmark(Baseline = true)]
    public ulong OffsetsAndMask()
    {
        var reply = new VdpaReply(_device, _mask, "vdpa DEV_GET");
        var sum = 0UL;
        foreach (var t in _types)
        {
            sum += reply.Has(t) ? (ulong)reply[t].Length + reply[t][0] : 0;
        }

        return sum;
    }

    [Benchmark]
    public ulong PlainDictionary()
    {
        var reply = new PlainReply(_device, _set);
        var sum = 0UL;
        foreach (var t in _types)
        {
            var payload = reply.Get(_device, t);
            sum += payload.IsEmpty ? 0 : (ulong)payload.Length + payload[0];
        }

        return sum;
    }

    /// <summary>The plain way: the same one pass and checks, with a dictionary and safe offsets.</summary>
    private sealed class PlainReply
    {
        private readonly Dictionary<ushort, (int Start, int Length)> _found = [];

        public PlainReply(ReadOnlySpan<byte> attributes, HashSet<ushort> reads)
        {
            var reader = new NetlinkAttributeReader(attributes);
            while (reader.TryRead(out var a))
            {
                if (reads.Contains(a.Type) && attributes.Overlaps(a.Payload, out var offset))
                {
                    if (VdpaKernelCatalog.ShapeOf(a.Type) == VdpaAttributeShape.U32)
                    {
                        a.GetU32();
                    }

                    _found[a.Type] = (offset, a.Payload.Length);
                }
            }
        }

        public ReadOnlySpan<byte> Get(ReadOnlySpan<byte> attributes, ushort type) =>
            _found.TryGetValue(type, out var p) ? attributes.Slice(p.Start, p.Length) : default;
    }
}

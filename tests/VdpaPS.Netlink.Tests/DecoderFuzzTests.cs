using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Vdpa;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// Malformed, truncated, oversized and nested-garbage input never crashes the decoders or reads out of bounds:
/// the only failure that may come out is the documented protocol error. A bounded run here; a longer one on demand
/// with VDPAPS_FUZZ_RUNS (for example 200000).
/// </summary>
public sealed class DecoderFuzzTests
{
    private static readonly int Runs = int.TryParse(Environment.GetEnvironmentVariable("VDPAPS_FUZZ_RUNS"), out var n) ? n : 3000;

    // Both families' recordings (6.12 at the top, 6.1 in its folder): each replay describes its own family, so a mutated
    // 6.1 reply is decoded with attribute 21 as device features.
    private static readonly string[] Fixtures = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures"), "*.nlrec", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(Path.Combine(AppContext.BaseDirectory, "Fixtures"), f)).Order(StringComparer.Ordinal).ToArray();

    private static readonly VdpaFamilyCapabilities Linux61 = KernelCapabilityTests.Family(22, attributeSet: false);

    [Fact]
    public void RandomBytesOnlyEverGiveProtocolErrors()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => DecodeEverything(bytes)).Check(Config(Runs));
    }

    [Fact]
    public void AttributeShapedGarbageOnlyEverGivesProtocolErrors()
    {
        // Plausible headers with random types, lengths and nesting reach deeper than uniform noise.
        var attributes = Gen.Sized(size => AttributeGen(Math.Min(size, 6))).ToArbitrary();
        Prop.ForAll(attributes, bytes => DecodeEverything(bytes)).Check(Config(Runs));
    }

    [Fact]
    public void BothFamiliesRecordingsAreFuzzed()
    {
        Assert.Contains(Fixtures, f => f.StartsWith("6.1" + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        Assert.Contains(Fixtures, f => !f.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    [Fact]
    public void MutatedKernelRepliesOnlyEverGiveNetlinkErrors()
    {
        var mutations = (from fixture in Gen.Elements(Fixtures)
                         from position in Gen.Choose(0, 4096)
                         from value in Gen.Choose(0, 255)
                         from kind in Gen.Choose(0, 3)
                         select (fixture, position, (byte)value, kind)).ToArbitrary();
        Prop.ForAll(mutations, m => ReplayMutated(m.fixture, m.position, m.Item3, m.kind)).Check(Config(Math.Max(Runs / 3, 200)));
    }

    private static FsCheck.Config Config(int runs) => FsCheck.Config.QuickThrowOnFailure.WithMaxTest(runs).WithEndSize(300);

    private static Gen<byte[]> AttributeGen(int depth) =>
        from count in Gen.Choose(0, 5)
        from parts in Gen.ListOf(
            from type in Gen.Choose(0, 40)
            from nested in depth > 0 ? Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false))) : Gen.Constant(false)
            from payload in nested ? AttributeGen(depth - 1) : ArbMap.Default.GeneratorFor<byte[]>()
            from lie in Gen.Frequency((8, Gen.Constant(0)), (1, Gen.Choose(-8, 8)))
            select Attribute((ushort)(type | (nested ? NetlinkConstants.AttributeNested : 0)), payload, lie), count)
        select parts.SelectMany(p => p).ToArray();

    private static byte[] Attribute(ushort type, byte[] payload, int lengthLie)
    {
        var length = 4 + payload.Length;
        var bytes = new byte[NetlinkConstants.Align(length)];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 2), (ushort)Math.Clamp(length + lengthLie, 0, ushort.MaxValue));
        BitConverter.TryWriteBytes(bytes.AsSpan(2, 2), type);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    private static bool DecodeEverything(byte[] bytes)
    {
        Survives(() => VdpaDecoder.DecodeParent(bytes));
        Survives(() => VdpaDecoder.DecodeDevice(bytes));
        Survives(() => VdpaDecoder.DecodeConfig(bytes));
        // As a 6.1 family means them too: attribute 21 is then device features, not a block capacity.
        Survives(() => VdpaDecoder.DecodeConfig(bytes, Linux61));
        Survives(() => VdpaDecoder.DecodeQueueStatistics(bytes));
        Survives(() => GenericNetlinkController.Decode(bytes));
        Survives(() =>
        {
            // Walk every nest too, reading each attribute as every type a decoder might.
            Walk(bytes, 0);
            return 0;
        });
        return true;
    }

    private static void Walk(ReadOnlySpan<byte> bytes, int depth)
    {
        var reader = new NetlinkAttributeReader(bytes);
        while (reader.TryRead(out var a))
        {
            _ = a.GetString();
            _ = a.Payload.Length switch { 1 or 2 or 4 or 8 => a.GetUnsigned(), _ => 0UL };
            if (depth < 8 && a.Payload.Length >= 4)
            {
                try
                {
                    Walk(a.Payload, depth + 1);
                }
                catch (NetlinkProtocolException)
                {
                    // The payload was not attributes; that is allowed to fail, and only this way.
                }
            }
        }
    }

    private static void Survives<T>(Func<T> decode)
    {
        try
        {
            decode();
        }
        catch (NetlinkProtocolException)
        {
            // The documented failure.
        }
    }

    private static bool ReplayMutated(string fixture, int position, byte value, int kind)
    {
        var script = NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture)))
            .Select(step => (step.Sent, Datagram: step.Sent ? step.Datagram : Mutate(step.Datagram, position, value, kind)))
            .ToList();
        using var client = TryOpen(new ReplayTransport(script) { CheckRequests = false });
        if (client is null)
        {
            return true;
        }

        try
        {
            _ = Path.GetFileName(fixture) switch
            {
                var f when f.StartsWith("mgmtdev-dump", StringComparison.Ordinal) => (long)client.GetParents().Count,
                var f when f.StartsWith("dev-dump", StringComparison.Ordinal) => client.GetDevices().Count,
                var f when f.StartsWith("config-dump", StringComparison.Ordinal) => client.GetConfigs().Count,
                var f when f.StartsWith("config-get", StringComparison.Ordinal) => client.GetConfig("x").DeviceId,
                var f when f.StartsWith("vstats", StringComparison.Ordinal) => client.GetQueueStatistics("x", 0).Counters.Length,
                _ => client.GetDevice("x").MaxQueues,
            };
        }
        catch (NetlinkException)
        {
        }
        catch (ReplayExhaustedException)
        {
            // A mutation that turned the last reply into something skipped: a real socket would wait for more.
        }

        return true;
    }

    private static VdpaClient? TryOpen(ReplayTransport transport)
    {
        try
        {
            return new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
        }
        catch (NetlinkException)
        {
            return null;
        }
        catch (ReplayExhaustedException)
        {
            return null;
        }
    }

    private static byte[] Mutate(byte[] datagram, int position, byte value, int kind)
    {
        var at = datagram.Length == 0 ? 0 : position % datagram.Length;
        return kind switch
        {
            0 => Replace(datagram, at, value),
            1 => datagram[..at],
            2 => [.. datagram, .. Enumerable.Repeat(value, position % 64)],
            _ => Replace(Replace(datagram, at, value), (at + 1) % Math.Max(datagram.Length, 1), (byte)(value ^ 0xff)),
        };
    }

    private static byte[] Replace(byte[] datagram, int at, byte value)
    {
        var copy = (byte[])datagram.Clone();
        if (copy.Length > 0)
        {
            copy[at] = value;
        }

        return copy;
    }
}

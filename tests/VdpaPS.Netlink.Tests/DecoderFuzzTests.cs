using System.Buffers.Binary;
using System.Text;
using FsCheck.Fluent;
using FsCheck;
using Microsoft.FSharp.Core;
using VdpaPS.Netlink.Protocol;
using VdpaPS.Netlink.Recording;
using VdpaPS.Netlink.Vdpa;
using Xunit.Abstractions;

namespace VdpaPS.Netlink.Tests;

/// <summary>
/// Malformed, truncated, oversized and nested-garbage input against the decoders, each run checked by an oracle
/// written here from the uAPI (linux/netlink.h attribute layout, linux/vdpa.h attribute numbers and widths): a
/// decoded value is what the bytes say, a rejection is a protocol error that names the offending attribute, and a
/// mutated kernel reply ends only in what its bytes explain.
/// </summary>
/// <remarks>
/// Each property runs twice: with a fixed seed (the same cases on every run) and with a random one, printed, and
/// named in the failure message. VDPAPS_FUZZ_SEED=N replays a seed in the random run; VDPAPS_FUZZ_RUNS sets the
/// number of cases (for example 200000 for a long run).
/// </remarks>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    private const ulong FixedSeed = 20261201;

    private static readonly int Runs = int.TryParse(Environment.GetEnvironmentVariable("VDPAPS_FUZZ_RUNS"), out var n) ? n : 3000;

    // Both families' recordings (6.12 at the top, 6.1 in its folder): each replay describes its own family, so a mutated
    // 6.1 reply is decoded with attribute 21 as device features.
    private static readonly string[] Fixtures = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures"), "*.nlrec", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(Path.Combine(AppContext.BaseDirectory, "Fixtures"), f)).Order(StringComparer.Ordinal).ToArray();

    private static readonly VdpaFamilyCapabilities Linux61 = KernelCapabilityTests.Family(22, attributeSet: false);

    public static TheoryData<string> Seeds => ["fixed", "random"];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomBytesDecodeAsTheirBytesSay(string seed)
    {
        Check(seed, Runs, Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes => DecodeEverything(bytes)));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void AttributeShapedGarbageDecodesAsItsBytesSay(string seed)
    {
        // Plausible headers with random types, lengths and nesting reach deeper than uniform noise.
        var attributes = Gen.Sized(size => AttributeGen(Math.Min(size, 6))).ToArbitrary();
        Check(seed, Runs, Prop.ForAll(attributes, bytes => DecodeEverything(bytes)));
    }

    [Fact]
    public void BothFamiliesRecordingsAreFuzzed()
    {
        Assert.Contains(Fixtures, f => f.StartsWith("6.1" + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        Assert.Contains(Fixtures, f => !f.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void WellTypedRepliesDecodeToWhatTheirBytesSay(string seed)
    {
        // Attributes of the types the decoders read, nearly always of the right width and with a name: most cases
        // decode, so the values are checked, not only the rejections.
        var known = Reference.ConfigWidths.Concat(Reference.DeviceWidths).Concat(Reference.ParentWidths).Concat(Reference.StatisticsWidths)
            .GroupBy(p => p.Key).Select(g => (g.Key, g.First().Value)).ToArray();
        var attribute = from entry in Gen.Elements(known)
                        from wrong in Gen.Frequency((19, Gen.Constant(false)), (1, Gen.Constant(true)))
                        from width in entry.Value is { } widths && !wrong ? Gen.Elements(widths) : Gen.Choose(0, 12)
                        from payload in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), width)
                        select Attribute(entry.Key, payload, 0);
        var replies = from name in Gen.Elements("d0", "vdpa0", "pci/0000:03:00.2")
                      from id in Gen.Elements(1, 2, 3)
                      from body in Gen.ListOf(attribute)
                      select (byte[])[.. Attribute(VdpaAttribute.DeviceName, Encoding.UTF8.GetBytes(name + "\0"), 0),
                          .. Attribute(VdpaAttribute.ManagementDeviceDeviceName, Encoding.UTF8.GetBytes(name + "\0"), 0),
                          .. Attribute(VdpaAttribute.VirtioDeviceId, BitConverter.GetBytes((uint)id), 0), .. body.SelectMany(b => b)];
        Check(seed, Runs, Prop.ForAll(replies.ToArbitrary(), bytes => DecodeEverything(bytes)));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MutatedKernelRepliesEndOnlyInWhatTheirBytesExplain(string seed)
    {
        var mutations = (from fixture in Gen.Elements(Fixtures)
                         from position in Gen.Choose(0, 4096)
                         from value in Gen.Choose(0, 255)
                         from kind in Gen.Choose(0, 3)
                         from target in Gen.Choose(0, 63)
                         select (fixture, position, (byte)value, kind, target)).ToArbitrary();
        var tally = new ReplayTally();
        var runs = Math.Max(Runs / 3, 200);
        Check(seed, runs, Prop.ForAll(mutations, m => ReplayMutated(m.fixture, m.position, m.Item3, m.kind, m.target, tally)));

        output.WriteLine($"{tally.Operation} of {tally.Total} replays reached the vdpa request; {tally.LookupFailed} ended in the family lookup");
        // A run where nearly every mutation breaks the family lookup would test the lookup alone.
        Assert.True(tally.Operation * 2 >= tally.Total, $"only {tally.Operation} of {tally.Total} replays got past the family lookup");
    }

    [Fact]
    public void OracleRejectsADecoderThatMisreadsAValue()
    {
        // The oracle itself can fail: a device whose DEV_MAX_VQS (7) says 5 must not decode as anything else.
        byte[] bytes = [.. Attribute(VdpaAttribute.DeviceName, "d\0"u8.ToArray(), 0), .. Attribute(VdpaAttribute.DeviceMaxQueues, [5, 0, 0, 0], 0)];
        var decoded = VdpaDecoder.DecodeDevice(bytes);
        Assert.Equal(5u, decoded.MaxQueues);
        CheckDevice(Reference.Parse(bytes), decoded);
        byte[] six = [.. Attribute(VdpaAttribute.DeviceName, "d\0"u8.ToArray(), 0), .. Attribute(VdpaAttribute.DeviceMaxQueues, [6, 0, 0, 0], 0)];
        Assert.Throws<Xunit.Sdk.EqualException>(() => CheckDevice(Reference.Parse(six), decoded));
    }

    [Fact]
    public void StatusWiderThanSixteenBitsIsRejectedByName()
    {
        // Found by the fixed-seed run of AttributeShapedGarbageDecodesAsItsBytesSay: an 8-byte NET_STATUS (11) was cut
        // to its low 16 bits and decoded as a different status than the bytes say.
        byte[] bytes = [.. Attribute(VdpaAttribute.DeviceName, "d\0"u8.ToArray(), 0), .. Attribute(VdpaAttribute.VirtioDeviceId, [1, 0, 0, 0], 0),
            .. Attribute(VdpaAttribute.NetStatus, [7, 0x92, 0, 0, 0, 0, 0, 0x8a], 0)];
        var e = Assert.Throws<NetlinkProtocolException>(() => VdpaDecoder.DecodeConfig(bytes));
        Assert.Contains("Attribute 11 (NET_STATUS)", e.Message, StringComparison.Ordinal);
        DecodeEverything(bytes);
    }

    private void Check(string seedKind, int runs, Property property)
    {
        var seed = seedKind == "fixed"
            ? FixedSeed
            : ulong.TryParse(Environment.GetEnvironmentVariable("VDPAPS_FUZZ_SEED"), out var replay) ? replay : (ulong)Random.Shared.NextInt64();
        output.WriteLine($"{seedKind} seed {seed}, {runs} cases (replay: VDPAPS_FUZZ_SEED={seed})");
        var config = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(runs).WithEndSize(300)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(seed), FSharpOption<int>.None)));
        try
        {
            property.Check(config);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"The {seedKind} seed {seed} found a failing case; replay it with VDPAPS_FUZZ_SEED={seed}.{Environment.NewLine}{e.Message}");
        }
    }

    private static Gen<byte[]> AttributeGen(int depth) =>
        from count in Gen.Choose(0, 5)
        from parts in Gen.ListOf(
            from type in Gen.Choose(0, 40)
            from nested in depth > 0 ? Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false))) : Gen.Constant(false)
            from payload in nested ? AttributeGen(depth - 1) : Gen.Frequency((2, ArbMap.Default.GeneratorFor<byte[]>()), (3, WidthGen()))
            from lie in Gen.Frequency((8, Gen.Constant(0)), (1, Gen.Choose(-8, 8)))
            select Attribute((ushort)(type | (nested ? NetlinkConstants.AttributeNested : 0)), payload, lie), count)
        select parts.SelectMany(p => p).ToArray();

    // Payloads of the widths the decoders expect (and strings), so values get decoded, not only rejected.
    private static Gen<byte[]> WidthGen() =>
        from width in Gen.Elements(1, 2, 4, 6, 8)
        from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), width)
        select bytes;

    private static byte[] Attribute(ushort type, byte[] payload, int lengthLie)
    {
        var length = 4 + payload.Length;
        var bytes = new byte[NetlinkConstants.Align(length)];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0, 2), (ushort)Math.Clamp(length + lengthLie, 0, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2, 2), type);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    private static void DecodeEverything(byte[] bytes)
    {
        var parsed = Reference.Parse(bytes);
        CheckReader(bytes, parsed);

        Expect(parsed, Reference.ParentWidths, VdpaAttribute.ManagementDeviceDeviceName, countsFirst: false,
            () => VdpaDecoder.DecodeParent(bytes), parent => CheckParent(parsed, parent));
        Expect(parsed, Reference.DeviceWidths, VdpaAttribute.DeviceName, countsFirst: false,
            () => VdpaDecoder.DecodeDevice(bytes), device => CheckDevice(parsed, device));
        Expect(parsed, Reference.ConfigWidths, VdpaAttribute.DeviceName, countsFirst: false,
            () => VdpaDecoder.DecodeConfig(bytes), config => CheckConfig(parsed, config));
        // As a 6.1 family means them: attribute 21 is then the device's features, never a block capacity.
        Expect(parsed, Reference.ConfigWidths, VdpaAttribute.DeviceName, countsFirst: false,
            () => VdpaDecoder.DecodeConfig(bytes, Linux61), config => CheckConfig61(parsed, config));
        // The statistics decoder counts the values in a first pass, so a malformed run fails before any width does.
        Expect(parsed, Reference.StatisticsWidths, VdpaAttribute.DeviceName, countsFirst: true,
            () => VdpaDecoder.DecodeQueueStatistics(bytes), stats => CheckStatistics(parsed, stats));

        // nlctrl's family description nests; only the top level is modelled here: success means it was well formed.
        try
        {
            var family = GenericNetlinkController.Decode(bytes);
            Assert.Null(parsed.Malformed);
            if (parsed.Last(2) is { } name)
            {
                Assert.Equal(Reference.String(name), family.Name);
            }
        }
        catch (NetlinkProtocolException)
        {
        }
    }

    /// <summary>The reader yields exactly the attributes the uAPI layout gives, then rejects what follows by name.</summary>
    private static void CheckReader(byte[] bytes, Reference parsed)
    {
        var reader = new NetlinkAttributeReader(bytes);
        var index = 0;
        try
        {
            while (reader.TryRead(out var a))
            {
                Assert.True(index < parsed.Attributes.Count, "the reader found an attribute the layout does not have");
                Assert.Equal(parsed.Attributes[index].RawType, a.RawType);
                Assert.Equal(parsed.Attributes[index].Payload, a.Payload.ToArray());
                index++;
            }

            Assert.Null(parsed.Malformed);
            Assert.Equal(parsed.Attributes.Count, index);
        }
        catch (NetlinkProtocolException e)
        {
            Assert.NotNull(parsed.Malformed);
            Assert.Equal(parsed.Attributes.Count, index);
            Assert.Contains(parsed.Malformed, e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs a flat decoder and checks its outcome against the reference: the first wrong width or malformed
    /// header, in the order the decoder meets them, must be the rejection, naming that attribute; else the values.</summary>
    private static void Expect<T>(Reference parsed, IReadOnlyDictionary<ushort, int[]?> widths, ushort nameType, bool countsFirst, Func<T> decode, Action<T> check)
    {
        var expectedError = countsFirst ? parsed.Malformed : null;
        if (expectedError is null)
        {
            foreach (var a in parsed.Attributes)
            {
                if (widths.TryGetValue(a.Type, out var allowed) && allowed is not null && !allowed.Contains(a.Payload.Length))
                {
                    expectedError = a.Type == VdpaAttribute.NetConfigMacAddress
                        ? $"A MAC attribute has {a.Payload.Length} bytes"
                        : $"Attribute {a.Type} has {a.Payload.Length} bytes";
                    break;
                }

                // virtio_net_config.status is 16 bits: a wider value cannot be a status.
                if (widths == Reference.ConfigWidths && a.Type == VdpaAttribute.NetStatus && Reference.Value(a.Payload) > ushort.MaxValue)
                {
                    expectedError = $"Attribute {a.Type} (NET_STATUS) carries";
                    break;
                }
            }
        }

        expectedError ??= parsed.Malformed ?? (parsed.Last(nameType) is null ? "has no device name" : null);
        T result;
        try
        {
            result = decode();
        }
        catch (NetlinkProtocolException e)
        {
            Assert.True(expectedError is not null, $"rejected well-formed input: {e.Message}");
            Assert.Contains(expectedError, e.Message, StringComparison.Ordinal);
            return;
        }

        Assert.True(expectedError is null, $"accepted input the layout rejects ({expectedError})");
        check(result);
    }

    private static void CheckParent(Reference r, VdpaParent parent)
    {
        Assert.Equal(Reference.String(r.Last(VdpaAttribute.ManagementDeviceDeviceName)!), parent.DeviceName);
        Assert.Equal(r.Last(VdpaAttribute.ManagementDeviceBusName) is { } bus ? Reference.String(bus) : null, parent.BusName);
        Assert.Equal(r.Unsigned(VdpaAttribute.ManagementDeviceSupportedClasses) ?? 0, parent.SupportedClassMask);
        Assert.Equal(r.Unsigned(VdpaAttribute.ManagementDeviceMaxQueues), (ulong?)parent.MaxQueues);
        Assert.Equal(r.Unsigned(VdpaAttribute.SupportedFeatures), parent.SupportedFeatureMask);
    }

    private static void CheckDevice(Reference r, VdpaDevice device)
    {
        Assert.Equal(Reference.String(r.Last(VdpaAttribute.DeviceName)!), device.Name);
        Assert.Equal(r.Last(VdpaAttribute.ManagementDeviceDeviceName) is { } p ? Reference.String(p) : string.Empty, device.ParentDeviceName);
        Assert.Equal(r.Unsigned(VdpaAttribute.VirtioDeviceId) ?? 0, device.VirtioDeviceId);
        Assert.Equal(r.Unsigned(VdpaAttribute.DeviceVendorId) ?? 0, device.VendorId);
        Assert.Equal(r.Unsigned(VdpaAttribute.DeviceMaxQueues) ?? 0, device.MaxQueues);
        Assert.Equal(r.Unsigned(VdpaAttribute.DeviceMaxQueueSize) ?? 0, device.MaxQueueSize);
        Assert.Equal(r.Unsigned(VdpaAttribute.DeviceMinQueueSize), (ulong?)device.MinQueueSize);
    }

    private static void CheckConfig(Reference r, VdpaDeviceConfig config)
    {
        Assert.Equal(Reference.String(r.Last(VdpaAttribute.DeviceName)!), config.Name);
        var deviceId = r.Unsigned(VdpaAttribute.VirtioDeviceId) ?? 0;
        Assert.Equal(deviceId, config.VirtioDeviceId);
        Assert.Equal(r.Unsigned(VdpaAttribute.NegotiatedFeatures), config.NegotiatedFeatureMask);
        Assert.Equal(r.Unsigned(VdpaAttribute.DeviceFeatures), config.DeviceFeatureMask);
        if (deviceId == 2)
        {
            var block = Assert.IsType<VdpaBlockDeviceConfig>(config);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockCapacity), block.Capacity);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockSizeMax), (ulong?)block.SizeMax);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockBlockSize), (ulong?)block.BlockSize);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockSegmentMax), (ulong?)block.SegmentMax);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockQueueCount), (ulong?)block.QueueCount);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockPhysicalBlockExponent), (ulong?)block.PhysicalBlockExponent);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockAlignmentOffset), (ulong?)block.AlignmentOffset);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockMinIoSize), (ulong?)block.MinIoSize);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockOptimalIoSize), (ulong?)block.OptimalIoSize);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockMaxDiscardSectors), (ulong?)block.MaxDiscardSectors);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockMaxDiscardSegments), (ulong?)block.MaxDiscardSegments);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockDiscardSectorAlignment), (ulong?)block.DiscardSectorAlignment);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockMaxWriteZeroesSectors), (ulong?)block.MaxWriteZeroesSectors);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockMaxWriteZeroesSegments), (ulong?)block.MaxWriteZeroesSegments);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockReadOnly) is { } ro ? ro != 0 : null, block.ReadOnly);
            Assert.Equal(r.Unsigned(VdpaAttribute.BlockFlush) is { } flush ? flush != 0 : null, block.Flush);
        }
        else
        {
            var net = Assert.IsType<VdpaNetDeviceConfig>(config);
            Assert.Equal(r.Last(VdpaAttribute.NetConfigMacAddress) is { } mac ? string.Join(":", mac.Select(b => b.ToString("x2"))) : null, net.MacAddress);
            Assert.Equal(r.Unsigned(VdpaAttribute.NetStatus), (ulong?)net.Status);
            Assert.Equal(r.Unsigned(VdpaAttribute.NetConfigMtu), (ulong?)net.Mtu);
            // No MAX_VQP (or 0) is one pair.
            Assert.Equal(r.Unsigned(VdpaAttribute.NetConfigMaxQueuePairs) is { } pairs and > 0 ? pairs : 1UL, (ulong?)net.MaxQueuePairs);
            Assert.Equal(r.Unsigned(VdpaAttribute.NetConfigMaxQueuePairs) is not null, net.ShowsMaxQueuePairs);
        }
    }

    private static void CheckConfig61(Reference r, VdpaDeviceConfig config)
    {
        Assert.Equal(Reference.String(r.Last(VdpaAttribute.DeviceName)!), config.Name);
        // DEV_FEATURES (20) and 6.1's VDPA_DEV_SUPPORTED_FEATURES (21) both say what the device offers: the last one counts.
        var features = r.Attributes.LastOrDefault(a => a.Type is VdpaAttribute.DeviceFeatures or VdpaAttribute.Legacy61DeviceFeatures).Payload;
        Assert.Equal(features is null ? null : (ulong?)Reference.Value(features), config.DeviceFeatureMask);
        if (config is VdpaBlockDeviceConfig block)
        {
            Assert.Null(block.Capacity);
        }
    }

    private static void CheckStatistics(Reference r, VdpaQueueStatistics stats)
    {
        Assert.Equal(Reference.String(r.Last(VdpaAttribute.DeviceName)!), stats.Name);
        Assert.Equal(r.Unsigned(VdpaAttribute.QueueIndex) ?? 0, stats.QueueIndex);
        // Counters: each value (19) takes the name (18) that came before it since the last value.
        var expected = new List<(string, ulong)>();
        string? pending = null;
        foreach (var a in r.Attributes)
        {
            if (a.Type == VdpaAttribute.VendorAttributeName)
            {
                pending = Reference.String(a.Payload);
            }
            else if (a.Type == VdpaAttribute.VendorAttributeValue)
            {
                expected.Add((pending ?? $"counter{expected.Count}", BinaryPrimitives.ReadUInt64LittleEndian(a.Payload)));
                pending = null;
            }
        }

        Assert.Equal(expected, stats.Counters.Select(c => (c.Name, c.Value)));
    }

    private static void ReplayMutated(string fixture, int position, byte value, int kind, int target, ReplayTally tally)
    {
        var original = NetlinkRecording.Parse(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture)));
        // One reply datagram is mutated (the target-th, counted among replies); the conversation around it stays real.
        var replies = original.Count(step => !step.Sent);
        var replyIndex = -1;
        var script = original.Select(step =>
        {
            if (step.Sent)
            {
                return (Sent: true, step.Datagram);
            }

            replyIndex++;
            return (Sent: false, Datagram: replyIndex == target % replies ? Mutate(step.Datagram, position, value, kind) : step.Datagram);
        }).ToList();
        var unchanged = script.Zip(original).All(p => p.First.Datagram.AsSpan().SequenceEqual(p.Second.Datagram));
        var said = Said(script.Where(s => !s.Sent).Select(s => s.Datagram));

        var (outcome, reachedOperation) = Run(fixture, script);
        tally.Add(reachedOperation);
        if (unchanged)
        {
            // A mutation that changed nothing must give exactly what the recording gives.
            Assert.Equal(Run(fixture, original).Outcome, outcome);
            return;
        }

        switch (outcome)
        {
            case Outcome.Decoded or Outcome.Waited or Outcome.Protocol:
                // Decoded from bytes that still parse, a reply the client never got (a real socket would wait), or
                // bytes it rejected as malformed.
                break;
            case Outcome.Refused refused:
                Assert.True(said.Errnos.Contains(refused.Errno) || refused.ClientSide,
                    $"{fixture}: errno {refused.Errno} ({refused.Message}) is in no error or done message of the replies");
                break;
            case Outcome.Interrupted or Outcome.Diverged:
                // A dump flagged as interrupted is retried: a request the recording does not have.
                Assert.True(said.DumpInterrupted || outcome is Outcome.Diverged && said.EndedEarly,
                    $"{fixture}: {outcome} without a reply that explains it");
                break;
        }
    }

    /// <summary>Replays a script through the client and says how it ended; any exception not named here fails the property.</summary>
    private static (Outcome Outcome, bool ReachedOperation) Run(string fixture, IEnumerable<(bool Sent, byte[] Datagram)> script)
    {
        var transport = new ReplayTransport(script) { CheckRequests = false, RequireAllConsumed = false };
        var reached = false;
        try
        {
            using var client = new VdpaClient(new NetlinkConnection(transport), new GenericFamilyCache(), ownsConnection: true);
            reached = true;
            object result = Path.GetFileName(fixture) switch
            {
                var f when f.StartsWith("mgmtdev-dump", StringComparison.Ordinal) => client.GetParents(),
                var f when f.StartsWith("dev-dump", StringComparison.Ordinal) => client.GetDevices(),
                var f when f.StartsWith("config-dump", StringComparison.Ordinal) => client.GetConfigs(),
                var f when f.StartsWith("config-get", StringComparison.Ordinal) => client.GetConfig("x"),
                var f when f.StartsWith("vstats", StringComparison.Ordinal) => client.GetQueueStatistics("x", 0),
                _ => client.GetDevice("x"),
            };
            return (new Outcome.Decoded(System.Text.Json.JsonSerializer.Serialize(result)), reached);
        }
        catch (ReplayExhaustedException)
        {
            return (new Outcome.Waited(), reached);
        }
        catch (ReplayDivergedException)
        {
            return (new Outcome.Diverged(), reached);
        }
        catch (DumpInterruptedException)
        {
            return (new Outcome.Interrupted(), reached);
        }
        catch (NetlinkProtocolException e)
        {
            return (new Outcome.Protocol(e.Message), reached);
        }
        catch (NetlinkException e)
        {
            // The client refuses a command the (mutated) family description lacks before sending it.
            // (the kernel's own extack texts never start with "this kernel's vdpa family").
            var clientSide = e is VdpaCapabilityException ||
                e.Errno == LinuxErrno.EOPNOTSUPP && e.ExtAckMessage?.StartsWith("this kernel's vdpa family", StringComparison.Ordinal) == true;
            return (new Outcome.Refused(e.Errno, e.Message, clientSide), reached);
        }
    }

    /// <summary>What the reply bytes say, read with the nlmsghdr layout: errnos of error and done messages, interrupted dumps.</summary>
    private static (HashSet<int> Errnos, bool DumpInterrupted, bool EndedEarly) Said(IEnumerable<byte[]> replies)
    {
        var errnos = new HashSet<int>();
        bool interrupted = false, early = false;
        foreach (var datagram in replies)
        {
            for (var offset = 0; offset + 16 <= datagram.Length;)
            {
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(datagram.AsSpan(offset));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(datagram.AsSpan(offset + 4));
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(datagram.AsSpan(offset + 6));
                if (length < 16 || offset + length > datagram.Length)
                {
                    break;
                }

                interrupted |= (flags & 0x10) != 0;
                // NLMSG_ERROR (2) and NLMSG_DONE (3) carry a negative errno first; an ack (0) or a done ends a reply.
                if (type is 2 or 3 && length >= 20)
                {
                    var error = BinaryPrimitives.ReadInt32LittleEndian(datagram.AsSpan(offset + 16));
                    errnos.Add(-error);
                    early = true;
                }
                else if ((flags & 0x2) == 0)
                {
                    // A message without NLM_F_MULTI is a whole reply: the client may stop reading there.
                    early = true;
                }

                offset += (length + 3) & ~3;
            }
        }

        return (errnos, interrupted, early);
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

    private abstract record Outcome
    {
        public sealed record Decoded(string Json) : Outcome;

        public sealed record Waited : Outcome;

        public sealed record Diverged : Outcome;

        public sealed record Interrupted : Outcome;

        public sealed record Protocol(string Message) : Outcome;

        public sealed record Refused(int Errno, string Message, bool ClientSide) : Outcome;
    }

    private sealed class ReplayTally
    {
        private int _total, _operation;

        public int Total => _total;

        public int Operation => _operation;

        public int LookupFailed => _total - _operation;

        public void Add(bool reachedOperation)
        {
            Interlocked.Increment(ref _total);
            if (reachedOperation)
            {
                Interlocked.Increment(ref _operation);
            }
        }
    }

    /// <summary>
    /// An attribute run parsed by the rules of linux/netlink.h (struct nlattr: u16 nla_len, u16 nla_type; payloads
    /// aligned to 4; NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off the type), kept apart from the project's reader.
    /// </summary>
    private sealed class Reference
    {
        // linux/vdpa.h: each attribute the decoders read, with the widths they accept (null: a string, any length).
        private static readonly int[] U8 = [1], U16 = [2], U32 = [4], U64 = [8];

        public static readonly Dictionary<ushort, int[]?> ParentWidths = new()
        {
            [1] = null, [2] = null, [3] = U64, [15] = U32, [16] = U64,
        };

        public static readonly Dictionary<ushort, int[]?> DeviceWidths = new()
        {
            [1] = null, [2] = null, [4] = null, [5] = U32, [6] = U32, [7] = U32, [8] = U16, [9] = U16,
        };

        public static readonly Dictionary<ushort, int[]?> ConfigWidths = new()
        {
            [4] = null, [5] = U32, [10] = [6], [11] = [1, 2, 4, 8], [12] = U16, [13] = U16, [14] = U64, [20] = U64,
            [21] = U64, [22] = U32, [23] = U32, [24] = U32, [25] = U16, [26] = U8, [27] = U8, [28] = U16, [29] = U32,
            [30] = U32, [31] = U32, [32] = U32, [33] = U32, [34] = U32, [35] = U8, [36] = U8,
        };

        public static readonly Dictionary<ushort, int[]?> StatisticsWidths = new()
        {
            [4] = null, [5] = U32, [12] = U16, [14] = U64, [17] = U32, [18] = null, [19] = U64,
        };

        public List<(ushort RawType, ushort Type, byte[] Payload)> Attributes { get; } = [];

        /// <summary>Null when the run is well formed; else the words the rejection must contain.</summary>
        public string? Malformed { get; private set; }

        public static Reference Parse(byte[] bytes)
        {
            var r = new Reference();
            var offset = 0;
            while (bytes.Length - offset >= 4)
            {
                var length = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset));
                var rawType = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 2));
                var type = (ushort)(rawType & ~(0x8000 | 0x4000));
                if (length < 4 || length > bytes.Length - offset)
                {
                    r.Malformed = $"Attribute {type} claims {length} bytes";
                    return r;
                }

                r.Attributes.Add((rawType, type, bytes[(offset + 4)..(offset + length)]));
                offset = Math.Min(offset + ((length + 3) & ~3), bytes.Length);
            }

            // Fewer bytes than a header can only be padding, which is zero.
            if (bytes.AsSpan(offset).ContainsAnyExcept((byte)0))
            {
                r.Malformed = $"{bytes.Length - offset} stray bytes";
            }

            return r;
        }

        public byte[]? Last(ushort type) => Attributes.LastOrDefault(a => a.Type == type).Payload;

        public ulong? Unsigned(ushort type) => Last(type) is { } p ? Value(p) : null;

        public static ulong Value(byte[] payload) => payload switch
        {
            [var b] => b,
            { Length: 2 } p => BinaryPrimitives.ReadUInt16LittleEndian(p),
            { Length: 4 } p => BinaryPrimitives.ReadUInt32LittleEndian(p),
            { Length: 8 } p => BinaryPrimitives.ReadUInt64LittleEndian(p),
            var p => throw new InvalidOperationException($"an attribute of {p.Length} bytes is no number"),
        };

        /// <summary>A string attribute: the bytes up to the first NUL, as UTF-8.</summary>
        public static string String(byte[] payload)
        {
            var end = Array.IndexOf(payload, (byte)0);
            return Encoding.UTF8.GetString(payload, 0, end < 0 ? payload.Length : end);
        }
    }
}

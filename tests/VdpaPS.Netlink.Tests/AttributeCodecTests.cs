using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Tests;

public sealed class AttributeCodecTests
{
    [Fact]
    public void WrittenAttributesReadBackInOrderWithRepeatsKept()
    {
        var writer = new NetlinkMessageWriter(initialCapacity: 8);
        writer.BeginGeneric(0x1c, 0, 7, 1);
        writer.WriteU8(1, 0xab);
        writer.WriteU16(2, 0xbeef);
        writer.WriteU32(3, 0xdeadbeef);
        writer.WriteU64(4, 0x0123456789abcdef);
        writer.WriteString(18, "rx packets");
        writer.WriteU64(19, 5);
        writer.WriteString(18, "rx bytes");
        writer.WriteU64(19, 300);
        writer.WriteBytes(10, [2, 0, 0, 0, 0, 1]);

        var reader = new NetlinkAttributeReader(writer.Written[20..]);
        var seen = new List<string>();
        while (reader.TryRead(out var a))
        {
            seen.Add(a.Type switch
            {
                1 => $"u8 {a.GetU8():x}",
                2 => $"u16 {a.GetU16():x}",
                3 => $"u32 {a.GetU32():x}",
                4 => $"u64 {a.GetU64():x}",
                18 => $"name {a.GetString()}",
                19 => $"value {a.GetU64()}",
                10 => $"mac {Convert.ToHexString(a.Payload)}",
                _ => "?",
            });
        }

        Assert.Equal(
            ["u8 ab", "u16 beef", "u32 deadbeef", "u64 123456789abcdef", "name rx packets", "value 5", "name rx bytes", "value 300", "mac 020000000001"],
            seen);
        Assert.Equal(0, writer.Length % 4);
    }

    [Fact]
    public void NestedAttributeLengthCoversItsChildren()
    {
        var writer = new NetlinkMessageWriter();
        writer.BeginGeneric(0x10, 0, 3, 1);
        var nest = writer.BeginNested(6);
        writer.WriteU32(1, 7);
        writer.WriteString(2, "abc");
        writer.EndNested(nest);
        writer.WriteU16(9, 1);

        var reader = new NetlinkAttributeReader(writer.Written[20..]);
        Assert.True(reader.TryRead(out var outer));
        Assert.True(outer.IsNested);
        Assert.Equal(6, outer.Type);
        var inner = outer.GetNested();
        Assert.True(inner.TryRead(out var first));
        Assert.Equal(7u, first.GetU32());
        Assert.True(inner.TryRead(out var second));
        Assert.Equal("abc", second.GetString());
        Assert.False(inner.TryRead(out _));
        Assert.True(reader.TryRead(out var after));
        Assert.Equal(9, after.Type);
    }

    [Fact]
    public void TypeZeroPadBeforeAnAlignedU64IsAnOrdinaryAttributeToSkip()
    {
        // nla_put_u64_64bit on strict-alignment arches: a 4-byte PAD (type 0) then the u64.
        byte[] bytes = [4, 0, 0, 0, 12, 0, 14, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        var reader = new NetlinkAttributeReader(bytes);

        Assert.True(reader.TryRead(out var pad));
        Assert.Equal(0, pad.Type);
        Assert.True(reader.TryRead(out var value));
        Assert.Equal(14, value.Type);
        Assert.Equal(1ul, value.GetU64());
    }

    [Theory]
    [InlineData(new byte[] { 8, 0, 1, 0, 1, 2 })] // claims 8 bytes, has 6
    [InlineData(new byte[] { 2, 0, 1, 0 })] // length below the header
    [InlineData(new byte[] { 5, 0, 1, 0, 1, 0, 0, 0, 9, 9 })] // stray bytes after the last attribute
    public void MalformedAttributesAreProtocolErrorsNotOverreads(byte[] bytes)
    {
        Assert.Throws<NetlinkProtocolException>(() =>
        {
            var reader = new NetlinkAttributeReader(bytes);
            while (reader.TryRead(out _))
            {
            }
        });
    }

    [Fact]
    public void WrongWidthIsAProtocolErrorButGetUnsignedTakesWhatCame()
    {
        byte[] bytes = [6, 0, 11, 0, 1, 0, 0, 0];
        var reader = new NetlinkAttributeReader(bytes);
        Assert.True(reader.TryRead(out var status));

        Assert.Equal(1ul, status.GetUnsigned());
        var payload = status.Payload.ToArray();
        Assert.Throws<NetlinkProtocolException>(() => new NetlinkAttribute(11, payload).GetU8());
    }

    [Fact]
    public void StringStopsAtTheFirstNul()
    {
        var attribute = new NetlinkAttribute(4, "vdpa0\0junk"u8);
        Assert.Equal("vdpa0", attribute.GetString());
        Assert.True(attribute.StringEquals("vdpa0"u8));
    }
}

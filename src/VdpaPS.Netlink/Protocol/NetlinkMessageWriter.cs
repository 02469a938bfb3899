using System.Buffers.Binary;
using System.Text;

namespace VdpaPS.Netlink.Protocol;

/// <summary>Builds one netlink request: the message header, the generic header and attributes.</summary>
/// <remarks>One instance is reused by a connection under its lock, so requests allocate nothing once it has grown.</remarks>
internal sealed class NetlinkMessageWriter
{
    private byte[] _buffer;
    private int _length;

    public NetlinkMessageWriter(int initialCapacity = 1024)
    {
        _buffer = new byte[initialCapacity];
    }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public int Length => _length;

    /// <summary>Starts a generic netlink message; <see cref="Finish"/> fills in its length and sequence number.</summary>
    public void BeginGeneric(ushort family, ushort flags, byte command, byte version)
    {
        _length = 0;
        var header = Reserve(NetlinkConstants.MessageHeaderSize + NetlinkConstants.GenericHeaderSize);
        header.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], family);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        header[16] = command;
        header[17] = version;
    }

    public void Finish(uint sequence, uint portId)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(12), portId);
    }

    public void WriteU8(ushort type, byte value) => Attribute(type, 1)[0] = value;

    public void WriteU16(ushort type, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Attribute(type, 2), value);

    public void WriteU32(ushort type, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Attribute(type, 4), value);

    /// <summary>A u64 without a type-0 pad: the kernel reads request attributes unaligned, as iproute2 relies on.</summary>
    public void WriteU64(ushort type, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Attribute(type, 8), value);

    public void WriteBytes(ushort type, ReadOnlySpan<byte> value) => value.CopyTo(Attribute(type, value.Length));

    /// <summary>A NUL-terminated string: the vdpa family uses names as C strings.</summary>
    public void WriteString(ushort type, string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        var payload = Attribute(type, count + 1);
        Encoding.UTF8.GetBytes(value, payload);
        payload[count] = 0;
    }

    /// <summary>Opens a nested attribute; pass the returned offset to <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        var start = _length;
        Attribute((ushort)(type | NetlinkConstants.AttributeNested), 0);
        return start;
    }

    public void EndNested(int start) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), checked((ushort)(_length - start)));

    private Span<byte> Attribute(ushort type, int payloadLength)
    {
        var total = NetlinkConstants.AttributeHeaderSize + payloadLength;
        var aligned = NetlinkConstants.Align(total);
        var space = Reserve(aligned);
        space[total..].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(space, checked((ushort)total));
        BinaryPrimitives.WriteUInt16LittleEndian(space[2..], type);
        return space.Slice(NetlinkConstants.AttributeHeaderSize, payloadLength);
    }

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}

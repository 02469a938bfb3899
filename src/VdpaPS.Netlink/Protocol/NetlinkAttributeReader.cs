using System.Buffers.Binary;
using System.Text;

namespace VdpaPS.Netlink.Protocol;

/// <summary>One attribute: its type (flags masked off) and its payload, without padding.</summary>
internal readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> payload)
    {
        RawType = rawType;
        Payload = payload;
    }

    public ushort RawType { get; }
    public ushort Type => (ushort)(RawType & NetlinkConstants.AttributeTypeMask);
    public bool IsNested => (RawType & NetlinkConstants.AttributeNested) != 0;
    public ReadOnlySpan<byte> Payload { get; }

    public byte GetU8() => Payload.Length == 1 ? Payload[0] : throw WrongLength(1);

    public ushort GetU16() => Payload.Length == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(Payload) : throw WrongLength(2);

    public uint GetU32() => Payload.Length == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Payload) : throw WrongLength(4);

    public ulong GetU64() => Payload.Length == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(Payload) : throw WrongLength(8);

    /// <summary>An unsigned value of whatever width the kernel sent (1, 2, 4 or 8 bytes).</summary>
    /// <remarks>The vdpa header declares some attributes narrower than the kernel emits them (NET_STATUS is u8 in the header, u16 on the wire).</remarks>
    public ulong GetUnsigned() => Payload.Length switch
    {
        1 => Payload[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(Payload),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(Payload),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(Payload),
        _ => throw WrongLength(8),
    };

    /// <summary>A string attribute; the kernel's trailing NUL (and anything after it) is not part of the value.</summary>
    public string GetString()
    {
        var end = Payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? Payload : Payload[..end]);
    }

    /// <summary>True when this string attribute equals <paramref name="utf8Value"/>, compared without allocating.</summary>
    public bool StringEquals(ReadOnlySpan<byte> utf8Value)
    {
        var end = Payload.IndexOf((byte)0);
        return (end < 0 ? Payload : Payload[..end]).SequenceEqual(utf8Value);
    }

    public NetlinkAttributeReader GetNested() => new(Payload);

    private NetlinkProtocolException WrongLength(int expected) =>
        new($"Attribute {Type} has {Payload.Length} bytes where {expected} were expected.");
}

/// <summary>Reads a run of netlink attributes in order; repeated types stay in the order the kernel sent them.</summary>
internal ref struct NetlinkAttributeReader
{
    private ReadOnlySpan<byte> _remaining;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
    {
        _remaining = attributes;
    }

    /// <summary>Moves to the next attribute; false at the end. A malformed length is a protocol error, never a read past the end.</summary>
    public bool TryRead(out NetlinkAttribute attribute)
    {
        if (_remaining.Length < NetlinkConstants.AttributeHeaderSize)
        {
            // Fewer bytes than a header can only be trailing padding.
            if (_remaining.Length != 0 && _remaining.ContainsAnyExcept((byte)0))
            {
                throw new NetlinkProtocolException($"{_remaining.Length} stray bytes after the last attribute.");
            }

            _remaining = default;
            attribute = default;
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(_remaining);
        var type = BinaryPrimitives.ReadUInt16LittleEndian(_remaining[2..]);
        if (length < NetlinkConstants.AttributeHeaderSize || length > _remaining.Length)
        {
            throw new NetlinkProtocolException($"Attribute {type & NetlinkConstants.AttributeTypeMask} claims {length} bytes with {_remaining.Length} left.");
        }

        attribute = new NetlinkAttribute(type, _remaining[NetlinkConstants.AttributeHeaderSize..length]);
        var advance = Math.Min(NetlinkConstants.Align(length), _remaining.Length);
        _remaining = _remaining[advance..];
        return true;
    }
}

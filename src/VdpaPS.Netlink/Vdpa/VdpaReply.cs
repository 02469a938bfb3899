using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using VdpaPS.Netlink.Protocol;

namespace VdpaPS.Netlink.Vdpa;

/// <summary>
/// A vdpa reply's attributes by type, found and checked in one pass, so that each decoder names the attributes it
/// reads instead of repeating a read loop and a switch. The pass checks every attribute the decoder reads against
/// its shape in <see cref="VdpaKernelCatalog"/>, in the order the kernel sent them, so the first malformed one is
/// the one reported; the others are skipped, as unknown types are. Where a type repeats, the last one counts.
/// Nothing is allocated: the positions live in the struct.
/// </summary>
internal ref struct VdpaReply
{
    /// <summary>Above the highest attribute a decoder reads (BLOCK_FLUSH, 36, in 6.12); a read set is a 64-bit mask.</summary>
    private const int Capacity = 48;

    private readonly ReadOnlySpan<byte> _attributes;
    // Where each type's payload starts in _attributes, plus one (0: absent), and its length.
    private Positions _start;
    private Positions _length;

    public VdpaReply(ReadOnlySpan<byte> attributes, ulong reads, string operation)
    {
        _attributes = attributes;
        var reader = new NetlinkAttributeReader(attributes);
        while (reader.TryRead(out var a))
        {
            if (a.Type < Capacity && (reads & (1UL << a.Type)) != 0)
            {
                Check(a, operation);
                // The payload's offset in the reply, found by Overlaps, which checks it lies inside; an empty payload
                // overlaps nothing, and any offset reads it as empty.
                _start[a.Type] = (attributes.Overlaps(a.Payload, out var offset) ? offset : 0) + 1;
                _length[a.Type] = a.Payload.Length;
            }
        }
    }

    /// <summary>The read set of a decoder: the attribute types it names.</summary>
    public static ulong Reads(params ReadOnlySpan<ushort> types)
    {
        var mask = 0UL;
        foreach (var t in types)
        {
            mask |= 1UL << t;
        }

        return mask;
    }

    public readonly ReadOnlySpan<byte> this[ushort type] => _attributes.Slice(_start[type] - 1, _length[type]);

    public readonly bool Has(ushort type) => _start[type] != 0;

    /// <summary>Of two types that mean the same, the one the kernel sent last (payloads lie in the order sent).</summary>
    public readonly ushort LastOf(ushort type, ushort other) => _start[type] > _start[other] ? type : other;

    public readonly string? String(ushort type) => Has(type) ? new NetlinkAttribute(type, this[type]).GetString() : null;

    public readonly byte? U8(ushort type) => Has(type) ? this[type][0] : null;

    public readonly ushort? U16(ushort type) => Has(type) ? BinaryPrimitives.ReadUInt16LittleEndian(this[type]) : null;

    public readonly uint? U32(ushort type) => Has(type) ? BinaryPrimitives.ReadUInt32LittleEndian(this[type]) : null;

    public readonly ulong? U64(ushort type) => Has(type) ? BinaryPrimitives.ReadUInt64LittleEndian(this[type]) : null;

    public readonly ulong? Unsigned(ushort type) => Has(type) ? new NetlinkAttribute(type, this[type]).GetUnsigned() : null;

    public readonly bool? Flag(ushort type) => Has(type) ? this[type][0] != 0 : null;

    private static void Check(NetlinkAttribute a, string operation)
    {
        switch (VdpaKernelCatalog.ShapeOf(a.Type))
        {
            case VdpaAttributeShape.U8: a.GetU8(); break;
            case VdpaAttributeShape.U16: a.GetU16(); break;
            case VdpaAttributeShape.U32: a.GetU32(); break;
            case VdpaAttributeShape.U64: a.GetU64(); break;
            case VdpaAttributeShape.MacAddress when a.Payload.Length != 6:
                throw new NetlinkProtocolException($"A MAC attribute has {a.Payload.Length} bytes.", operation);
            // The header says u8, the kernel sends u16: take whatever width came, but never cut a value short.
            case VdpaAttributeShape.NetStatus when a.GetUnsigned() > ushort.MaxValue:
                throw new NetlinkProtocolException($"Attribute {a.Type} (NET_STATUS) carries {a.GetUnsigned()}, more than the 16-bit status holds.", operation);
        }
    }

    [InlineArray(Capacity)]
    private struct Positions
    {
        private int _element;
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EncFs.Crypto.Xts;

/// <summary>
/// The XTS tweak chain: a 128-bit value, little-endian as in IEEE 1619, multiplied by alpha
/// (x) in GF(2^128) mod x^128 + x^7 + x^2 + x + 1 once per block.
/// </summary>
internal struct XtsTweak
{
    private ulong _low;
    private ulong _high;

    public XtsTweak(ReadOnlySpan<byte> block)
    {
        _low = BinaryPrimitives.ReadUInt64LittleEndian(block);
        _high = BinaryPrimitives.ReadUInt64LittleEndian(block[8..]);
    }

    public readonly void WriteTo(Span<byte> block)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(block, _low);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], _high);
    }

    /// <summary>Multiply by alpha without a data-dependent branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MultiplyByAlpha()
    {
        ulong reduction = (ulong)((long)_high >> 63) & 0x87;
        _high = (_high << 1) | (_low >> 63);
        _low = (_low << 1) ^ reduction;
    }

    /// <summary>Writes this tweak and its successors, one per 16-byte block of the span, advancing past them.</summary>
    public void Fill(Span<byte> blocks)
    {
        for (int offset = 0; offset < blocks.Length; offset += 16)
        {
            WriteTo(blocks.Slice(offset, 16));
            MultiplyByAlpha();
        }
    }

    /// <summary>destination = a ^ b; lengths are equal multiples of 16, destination may alias a.</summary>
    public static void Xor(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> destination)
    {
        ref byte ra = ref MemoryMarshal.GetReference(a);
        ref byte rb = ref MemoryMarshal.GetReference(b);
        ref byte rd = ref MemoryMarshal.GetReference(destination);
        nuint length = (nuint)destination.Length;
        for (nuint i = 0; i < length; i += 16)
        {
            (Vector128.LoadUnsafe(ref ra, i) ^ Vector128.LoadUnsafe(ref rb, i)).StoreUnsafe(ref rd, i);
        }
    }
}

using System.Security.Cryptography;

namespace EncFs.Core.Format;

/// <summary>A 16-byte random identifier (volume, scope, file, directory), shown as 32 hex digits.</summary>
public readonly record struct Guid128(ulong High, ulong Low)
{
    public const int Size = 16;

    public static Guid128 NewRandom()
    {
        Span<byte> bytes = stackalloc byte[Size];
        RandomNumberGenerator.Fill(bytes);
        return Read(bytes);
    }

    public static Guid128 Read(ReadOnlySpan<byte> bytes) => new(
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes),
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));

    public static Guid128 Parse(string hex)
    {
        if (hex.Length != 2 * Size)
        {
            throw new FormatException($"an id is 32 hex digits, not '{hex}'");
        }

        return Read(Convert.FromHexString(hex));
    }

    public void WriteTo(Span<byte> destination)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    public override string ToString() => Convert.ToHexStringLower(ToBytes());
}

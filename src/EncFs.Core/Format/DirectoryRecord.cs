using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EncFs.Core.Format;

/// <summary>
/// The .efsdir record of a backing directory (docs/FORMAT.md section 5): the directory id that
/// makes its entry names unique to it, and its scope policy, authenticated with the scope's DEK.
/// </summary>
public sealed record DirectoryRecord(Guid128 DirectoryId, Guid128 ScopeId, int Generation, bool DenyOverride)
{
    public const string FileName = ".efsdir";
    public const int Size = 76;
    private const int MacOffset = 44;
    private static ReadOnlySpan<byte> Magic => "EFSD"u8;

    public byte[] Encode(Func<DirectoryRecord, byte[]> recordKey)
    {
        var bytes = new byte[Size];
        Magic.CopyTo(bytes);
        bytes[4] = 1;
        bytes[5] = DenyOverride ? (byte)1 : (byte)0;
        DirectoryId.WriteTo(bytes.AsSpan(8));
        ScopeId.WriteTo(bytes.AsSpan(24));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(40), Generation);
        var key = recordKey(this);
        HMACSHA256.HashData(key, bytes.AsSpan(0, MacOffset), bytes.AsSpan(MacOffset));
        CryptographicOperations.ZeroMemory(key);
        return bytes;
    }

    /// <summary>Parses the fixed part; <see cref="Verify"/> checks the MAC once the scope key is known.</summary>
    public static DirectoryRecord Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size || !bytes[..4].SequenceEqual(Magic) || bytes[4] != 1 || (bytes[5] & ~1) != 0)
        {
            throw new InvalidDataException("damaged directory record");
        }

        return new DirectoryRecord(
            Guid128.Read(bytes[8..]),
            Guid128.Read(bytes[24..]),
            BinaryPrimitives.ReadInt32LittleEndian(bytes[40..]),
            (bytes[5] & 1) != 0);
    }

    public static bool Verify(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> recordKey)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(recordKey, bytes[..MacOffset], mac);
        return CryptographicOperations.FixedTimeEquals(mac, bytes[MacOffset..Size]);
    }
}

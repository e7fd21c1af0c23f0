using System.Buffers.Binary;
using System.Security.Cryptography;
using EncFs.Core.Format;
using EncFs.Core.Keys;

namespace EncFs.Core.Content;

/// <summary>
/// The logical size in a file header: AES-256-GCM under the file header key, with the header's
/// fixed part as associated data, so the header is authenticated as a whole.
/// </summary>
public static class SizeSeal
{
    public const int TagSize = 16;
    private const int NonceSize = 12;

    /// <summary>With a keyed AES-GCM kept by the caller (the open file's, reused on every size change).</summary>
    public static void Seal(AesGcm gcm, Span<byte> header, long size)
    {
        var nonce = header.Slice(FileHeader.SizeNonceOffset, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        Span<byte> plain = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(plain, size);
        gcm.Encrypt(
            nonce,
            plain,
            header.Slice(FileHeader.SizeCipherOffset, 8),
            header.Slice(FileHeader.SizeTagOffset, TagSize),
            header[..FileHeader.AuthenticatedLength]);
    }

    public static long? Open(ReadOnlySpan<byte> headerKey, ReadOnlySpan<byte> header)
    {
        using var gcm = new AesGcm(headerKey, TagSize);
        return Open(gcm, header);
    }

    public static long? Open(AesGcm gcm, ReadOnlySpan<byte> header)
    {
        Span<byte> plain = stackalloc byte[8];

        try
        {
            gcm.Decrypt(
                header.Slice(FileHeader.SizeNonceOffset, NonceSize),
                header.Slice(FileHeader.SizeCipherOffset, 8),
                header.Slice(FileHeader.SizeTagOffset, TagSize),
                plain,
                header[..FileHeader.AuthenticatedLength]);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        long size = BinaryPrimitives.ReadInt64LittleEndian(plain);
        return size >= 0 ? size : null;
    }

    /// <summary>Reads the size with only the header key derived (no data cipher set up).</summary>
    public static long? Open(ScopeKeys keys, Guid128 fileId, ReadOnlySpan<byte> header)
    {
        using var key = keys.FileHeaderKey(fileId);
        return Open(key.Span, header);
    }
}

using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// Key derivation: HKDF-SHA256 (RFC 5869), used to derive per-file and per-purpose keys from
/// a scope DEK. SHA-256 and HKDF because an independent tool can redo the derivation
/// (<c>openssl kdf ... HKDF</c>), which the interoperability promise of the format needs.
/// </summary>
public static class KeyDerivation
{
    /// <summary>SHA-256 output length; HKDF output is limited to 255 times this.</summary>
    public const int HashLength = 32;

    /// <summary>Largest HKDF-SHA256 output (255 * 32 bytes).</summary>
    public const int MaxOutputLength = 255 * HashLength;

    /// <summary>
    /// output = HKDF-SHA256(ikm, salt, info), filling all of <paramref name="output"/>
    /// (1..8160 bytes).
    /// </summary>
    /// <param name="salt">
    /// May be empty: RFC 5869 then uses HashLen zero bytes, which gives the same HMAC key
    /// (HMAC zero-pads its key), so empty and 32 zero bytes derive identical output.
    /// </param>
    public static void Hkdf(ReadOnlySpan<byte> ikm, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, Span<byte> output)
    {
        if (output.IsEmpty || output.Length > MaxOutputLength)
        {
            throw new ArgumentException($"HKDF-SHA256 output must be 1..{MaxOutputLength} bytes, not {output.Length}.", nameof(output));
        }

        HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, output, salt, info);
    }

    /// <summary>A new <see cref="SecretKey"/> of <paramref name="length"/> bytes = HKDF-SHA256(ikm, salt, info).</summary>
    public static SecretKey Hkdf(ReadOnlySpan<byte> ikm, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> info, int length)
    {
        if (length <= 0 || length > MaxOutputLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"HKDF-SHA256 output must be 1..{MaxOutputLength} bytes.");
        }

        SecretKey key = SecretKey.CreateZeroed(length);
        try
        {
            Hkdf(ikm, salt, info, key.WritableSpan);
        }
        catch
        {
            key.Dispose();
            throw;
        }

        return key;
    }
}

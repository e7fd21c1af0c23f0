using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// Envelope encryption of a key (a DEK) under a local 32-byte key-encryption key with
/// AES-256-GCM.
/// </summary>
/// <remarks>
/// <para>Wrapped layout: <c>nonce (12, random) || ciphertext (key length) || tag (16)</c>.</para>
/// <para>
/// AEAD rather than RFC 3394 AES-KW: the associated data binds the wrapped key to its
/// context (volume id, scope id, key version...), so a wrapped key copied into another slot
/// fails to unwrap. Random 96-bit nonces are fine here: a KEK wraps a handful of keys, far
/// from the 2^32 birthday limit.
/// </para>
/// <para>
/// Unwrapping decrypts straight into the pinned buffer of the returned <see cref="SecretKey"/>,
/// so no other plaintext copy of the key is made; on failure that buffer is wiped.
/// All methods are thread-safe (no shared state).
/// </para>
/// </remarks>
public static class KeyWrap
{
    /// <summary>KEK length (AES-256).</summary>
    public const int KekSize = 32;

    /// <summary>Random nonce length.</summary>
    public const int NonceSize = 12;

    /// <summary>GCM tag length.</summary>
    public const int TagSize = 16;

    /// <summary>Bytes a wrapped key has beyond the key itself.</summary>
    public const int Overhead = NonceSize + TagSize;

    /// <summary>Wraps <paramref name="keyToWrap"/> under <paramref name="kek"/>; returns nonce || ciphertext || tag.</summary>
    /// <param name="associatedData">Authenticated, not stored; the same bytes must be given to unwrap.</param>
    public static byte[] Wrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> keyToWrap, ReadOnlySpan<byte> associatedData)
    {
        CheckKek(kek);
        if (keyToWrap.IsEmpty)
        {
            throw new ArgumentException("The key to wrap is empty.", nameof(keyToWrap));
        }

        byte[] wrapped = new byte[keyToWrap.Length + Overhead];
        Span<byte> nonce = wrapped.AsSpan(0, NonceSize);
        Span<byte> ciphertext = wrapped.AsSpan(NonceSize, keyToWrap.Length);
        Span<byte> tag = wrapped.AsSpan(NonceSize + keyToWrap.Length, TagSize);
        RandomNumberGenerator.Fill(nonce);

        using var gcm = new AesGcm(kek, TagSize);
        gcm.Encrypt(nonce, keyToWrap, ciphertext, tag, associatedData);
        return wrapped;
    }

    /// <summary>Unwraps a key wrapped by <see cref="Wrap"/>.</summary>
    /// <exception cref="KeyUnwrapException">Wrong KEK, or the wrapped key or its associated data was altered or truncated.</exception>
    public static SecretKey Unwrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData)
    {
        if (!TryUnwrap(kek, wrapped, associatedData, out SecretKey? key))
        {
            throw new KeyUnwrapException();
        }

        return key;
    }

    /// <summary>Unwraps a key wrapped by <see cref="Wrap"/>; false (and null) if it does not authenticate.</summary>
    /// <exception cref="ArgumentException">The KEK is not 32 bytes (a programming error, not an authentication failure).</exception>
    public static bool TryUnwrap(
        ReadOnlySpan<byte> kek,
        ReadOnlySpan<byte> wrapped,
        ReadOnlySpan<byte> associatedData,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SecretKey? key)
    {
        CheckKek(kek);
        key = null;
        if (wrapped.Length <= Overhead)
        {
            return false; // truncated, or an empty key, which Wrap never produces
        }

        int length = wrapped.Length - Overhead;
        ReadOnlySpan<byte> nonce = wrapped[..NonceSize];
        ReadOnlySpan<byte> ciphertext = wrapped.Slice(NonceSize, length);
        ReadOnlySpan<byte> tag = wrapped[(NonceSize + length)..];

        SecretKey result = SecretKey.CreateZeroed(length);
        try
        {
            using var gcm = new AesGcm(kek, TagSize);
            gcm.Decrypt(nonce, ciphertext, tag, result.WritableSpan, associatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            result.Dispose(); // wipes whatever was decrypted
            return false;
        }
        catch
        {
            result.Dispose();
            throw;
        }

        key = result;
        return true;
    }

    private static void CheckKek(ReadOnlySpan<byte> kek)
    {
        if (kek.Length != KekSize)
        {
            throw new ArgumentException($"A key-encryption key is {KekSize} bytes (AES-256), not {kek.Length}.", nameof(kek));
        }
    }
}

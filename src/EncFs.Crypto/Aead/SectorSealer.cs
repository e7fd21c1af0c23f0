using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// The infrastructure (second) encryption layer over one sector's XTS ciphertext:
/// ChaCha20-Poly1305 with a random 96-bit nonce, so any change to a sealed sector, or a
/// sector moved to another place (bound through the associated data), is detected.
/// </summary>
/// <remarks>
/// <para>Sealed layout: <c>nonce (12) || ciphertext (same length as data) || tag (16)</c>.</para>
/// <para>
/// A different algorithm family from the AES-XTS data layer on purpose: a break of one does
/// not carry over to the other (the "double encryption" of the reference model).
/// </para>
/// <para>
/// Nonces are random, so the number of seals under one key must stay well below 2^32
/// (birthday bound on 96-bit nonces, collision probability about 2^-33 at 2^32 seals);
/// callers should derive a key per file rather than use one key for a whole volume.
/// </para>
/// <para>
/// Thread safety: safe for concurrent <see cref="Seal"/> / <see cref="TryOpen"/> calls on one
/// instance. The platform <see cref="ChaCha20Poly1305"/> is not: on Linux it keeps one OpenSSL
/// EVP_CIPHER_CTX per object and re-initialises it on every call, so two threads would
/// corrupt each other's state. We therefore keep a small lock-free pool of platform objects
/// (one per concurrently running call), created on demand from the key, which is held in a
/// pinned <see cref="SecretKey"/>. In the steady state a call allocates nothing managed.
/// </para>
/// </remarks>
public sealed class SectorSealer : IDisposable
{
    /// <summary>Random nonce length.</summary>
    public const int NonceSize = 12;

    /// <summary>Poly1305 tag length.</summary>
    public const int TagSize = 16;

    /// <summary>Bytes added to every sealed sector: nonce + tag.</summary>
    public const int Overhead = NonceSize + TagSize;

    /// <summary>Key length.</summary>
    public const int KeySize = 32;

    private readonly SecretKey _key;
    private readonly ChaCha20Poly1305?[] _pool;
    private volatile bool _disposed;

    /// <param name="key">32-byte key, copied; the caller keeps ownership of its buffer.</param>
    /// <exception cref="PlatformNotSupportedException">The platform crypto library has no ChaCha20-Poly1305 (see <see cref="IsSupported"/>).</exception>
    public SectorSealer(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"A sector sealing key is {KeySize} bytes, not {key.Length}.", nameof(key));
        }

        if (!ChaCha20Poly1305.IsSupported)
        {
            throw new PlatformNotSupportedException(
                "ChaCha20-Poly1305 is not available from this platform's crypto library, so the infrastructure encryption layer cannot be used here.");
        }

        _key = SecretKey.Copy(key);

        // Enough slots for every core to have a call in flight plus some blocked in I/O;
        // beyond that, extra objects are created and discarded (correct, only slower).
        _pool = new ChaCha20Poly1305?[Math.Max(4, 2 * Environment.ProcessorCount)];

        // Fail fast on a bad key / broken platform, and prime the pool.
        _pool[0] = new ChaCha20Poly1305(_key.Span);
    }

    /// <summary>Whether the platform provides ChaCha20-Poly1305 (OpenSSL 1.1+ on Linux, Windows 10 20H2+).</summary>
    public static bool IsSupported => ChaCha20Poly1305.IsSupported;

    /// <summary>
    /// Seals <paramref name="data"/> into <paramref name="sealedOutput"/>
    /// (<c>data.Length + <see cref="Overhead"/></c> bytes) with a fresh random nonce.
    /// </summary>
    /// <param name="associatedData">Authenticated, not stored: typically the file identity and sector number, so a sealed sector cannot be moved elsewhere undetected.</param>
    public void Seal(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> data, Span<byte> sealedOutput)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sealedOutput.Length != data.Length + Overhead)
        {
            throw new ArgumentException($"Sealed output must be data length + {Overhead} bytes ({data.Length + Overhead}), not {sealedOutput.Length}.", nameof(sealedOutput));
        }

        if (data.Overlaps(sealedOutput))
        {
            throw new ArgumentException("Sealed output must not overlap the data.", nameof(sealedOutput));
        }

        Span<byte> nonce = sealedOutput[..NonceSize];
        Span<byte> ciphertext = sealedOutput.Slice(NonceSize, data.Length);
        Span<byte> tag = sealedOutput[(NonceSize + data.Length)..];
        RandomNumberGenerator.Fill(nonce);

        ChaCha20Poly1305 aead = Rent();
        try
        {
            aead.Encrypt(nonce, data, ciphertext, tag, associatedData);
        }
        finally
        {
            Return(aead);
        }
    }

    /// <summary>
    /// Opens a sealed sector into <paramref name="data"/> (<c>sealedInput.Length - <see cref="Overhead"/></c> bytes).
    /// Returns false, with <paramref name="data"/> zeroed, if the sector is not authentic under
    /// this key and associated data (altered, moved, truncated, or sealed with another key).
    /// </summary>
    public bool TryOpen(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> sealedInput, Span<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sealedInput.Length < Overhead)
        {
            // Truncated below nonce + tag: cannot be authentic (input comes from an untrusted medium).
            CryptographicOperations.ZeroMemory(data);
            return false;
        }

        int length = sealedInput.Length - Overhead;
        if (data.Length != length)
        {
            throw new ArgumentException($"Data buffer must be sealed length - {Overhead} bytes ({length}), not {data.Length}.", nameof(data));
        }

        if (sealedInput.Overlaps(data))
        {
            throw new ArgumentException("Data buffer must not overlap the sealed input.", nameof(data));
        }

        ReadOnlySpan<byte> nonce = sealedInput[..NonceSize];
        ReadOnlySpan<byte> ciphertext = sealedInput.Slice(NonceSize, length);
        ReadOnlySpan<byte> tag = sealedInput[(NonceSize + length)..];

        ChaCha20Poly1305 aead = Rent();
        try
        {
            aead.Decrypt(nonce, ciphertext, tag, data, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            // The platform already zeroes the output on failure; do it again so the contract
            // does not depend on that detail. (An exception is only thrown on the failure
            // path, which is not the hot path.)
            CryptographicOperations.ZeroMemory(data);
            return false;
        }
        finally
        {
            Return(aead);
        }
    }

    /// <summary>Wipes the key copy and releases the pooled platform objects.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (int i = 0; i < _pool.Length; i++)
        {
            Interlocked.Exchange(ref _pool[i], null)?.Dispose();
        }

        _key.Dispose();
    }

    private ChaCha20Poly1305 Rent()
    {
        // Start the scan at a thread-dependent slot so concurrent threads rarely contend on one.
        int start = Environment.CurrentManagedThreadId % _pool.Length;
        for (int i = 0; i < _pool.Length; i++)
        {
            int slot = (start + i) % _pool.Length;
            ChaCha20Poly1305? aead = Interlocked.Exchange(ref _pool[slot], null);
            if (aead is not null)
            {
                return aead;
            }
        }

        // Pool empty: more calls in flight than slots. Build another object from the key
        // (allocates; only happens when concurrency grows).
        return new ChaCha20Poly1305(_key.Span);
    }

    private void Return(ChaCha20Poly1305 aead)
    {
        int start = Environment.CurrentManagedThreadId % _pool.Length;
        for (int i = 0; i < _pool.Length; i++)
        {
            int slot = (start + i) % _pool.Length;
            if (Interlocked.CompareExchange(ref _pool[slot], aead, null) is null)
            {
                // Dispose may have drained the pool between our check and the store: take it back.
                if (_disposed)
                {
                    Interlocked.Exchange(ref _pool[slot], null)?.Dispose();
                }

                return;
            }
        }

        aead.Dispose(); // pool full
    }
}

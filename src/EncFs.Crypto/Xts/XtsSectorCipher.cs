using System.Security.Cryptography;
using EncFs.Crypto.Xts;

namespace EncFs.Crypto;

/// <summary>
/// AES-256-XTS (IEEE 1619 / NIST SP 800-38E) for fixed-size sectors. The tweak is the data unit
/// (sector) number as a 128-bit little-endian integer, so a sector can be decrypted by any
/// standard XTS implementation given the key and its number.
/// </summary>
/// <remarks>
/// Thread-safe: any number of threads may encrypt and decrypt on one instance at once. Keyed
/// native contexts are pooled, so the key schedule is not repeated per call. Dispose only once
/// no call is in flight.
/// </remarks>
public sealed class XtsSectorCipher : IDisposable
{
    /// <summary>Key length: two AES-256 keys, the data key then the tweak key.</summary>
    public const int KeySize = 64;

    /// <summary>Smallest data unit: one AES block.</summary>
    public const int MinDataUnitSize = 16;

    /// <summary>Largest data unit: IEEE 1619 allows at most 2^20 blocks per data unit.</summary>
    public const int MaxDataUnitSize = 1 << 24;

    private readonly XtsEngine _engine;
    private volatile bool _disposed;

    /// <summary>Creates a cipher with the platform's fastest available implementation.</summary>
    /// <param name="key">64 bytes: key1 (data) followed by key2 (tweak); the halves must differ.</param>
    public XtsSectorCipher(ReadOnlySpan<byte> key)
        : this(CreateEngine(key))
    {
    }

    private XtsSectorCipher(XtsEngine engine) => _engine = engine;

    /// <summary>Which implementation is in use ("OpenSSL" or "ECB").</summary>
    internal string Implementation => _engine.Name;

    /// <summary>Encrypts one data unit of any length from 16 bytes; ciphertext may be the same span.</summary>
    public void Encrypt(ulong dataUnit, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        CheckUnit(plaintext, ciphertext);
        _engine.Transform(true, dataUnit, plaintext.Length, plaintext, ciphertext);
    }

    /// <summary>Decrypts one data unit of any length from 16 bytes; plaintext may be the same span.</summary>
    public void Decrypt(ulong dataUnit, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        CheckUnit(ciphertext, plaintext);
        _engine.Transform(false, dataUnit, ciphertext.Length, ciphertext, plaintext);
    }

    /// <summary>Encrypts consecutive sectors numbered firstDataUnit, firstDataUnit + 1, ...</summary>
    public void EncryptSectors(ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        CheckSectors(firstDataUnit, sectorSize, plaintext, ciphertext);
        if (!plaintext.IsEmpty)
        {
            _engine.Transform(true, firstDataUnit, sectorSize, plaintext, ciphertext);
        }
    }

    /// <summary>Decrypts consecutive sectors numbered firstDataUnit, firstDataUnit + 1, ...</summary>
    public void DecryptSectors(ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        CheckSectors(firstDataUnit, sectorSize, ciphertext, plaintext);
        if (!ciphertext.IsEmpty)
        {
            _engine.Transform(false, firstDataUnit, sectorSize, ciphertext, plaintext);
        }
    }

    /// <summary>Frees the native contexts and zeroes the key copies.</summary>
    public void Dispose()
    {
        _disposed = true;
        _engine.Dispose();
    }

    internal static XtsSectorCipher CreateOpenSsl(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        return new XtsSectorCipher(new OpenSslXts(key));
    }

    internal static XtsSectorCipher CreateEcb(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        return new XtsSectorCipher(new EcbXts(key));
    }

    private static XtsEngine CreateEngine(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        return OpenSslXts.IsSupported ? new OpenSslXts(key) : new EcbXts(key);
    }

    private static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException(
                $"An AES-256-XTS key is {KeySize} bytes (two AES-256 keys), not {key.Length}.", nameof(key));
        }

        // IEEE 1619-2018 and SP 800-38E require distinct halves; OpenSSL 3 refuses equal ones.
        // Checked here so that every implementation behaves alike.
        if (CryptographicOperations.FixedTimeEquals(key[..32], key[32..]))
        {
            throw new CryptographicException(
                "AES-256-XTS key rejected: its two 32-byte halves (data key and tweak key) are equal.");
        }
    }

    private static void CheckOverlap(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length != input.Length)
        {
            throw new ArgumentException(
                $"Output length {output.Length} differs from input length {input.Length}.", nameof(output));
        }

        // The same span is fine (in-place); a shifted overlap would read bytes already written.
        if (input.Overlaps(output, out int offset) && offset != 0)
        {
            throw new ArgumentException("Input and output overlap at different offsets.", nameof(output));
        }
    }

    private void CheckUnit(ReadOnlySpan<byte> input, Span<byte> output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (input.Length is < MinDataUnitSize or > MaxDataUnitSize)
        {
            throw new ArgumentException(
                $"An XTS data unit is {MinDataUnitSize} to {MaxDataUnitSize} bytes, not {input.Length}.", nameof(input));
        }

        CheckOverlap(input, output);
    }

    private void CheckSectors(ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> input, Span<byte> output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(sectorSize, MinDataUnitSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sectorSize, MaxDataUnitSize);
        if (input.Length % sectorSize != 0)
        {
            throw new ArgumentException(
                $"Length {input.Length} is not a multiple of the sector size {sectorSize}.", nameof(input));
        }

        CheckOverlap(input, output);

        // A wrapped sector number would reuse a tweak.
        ulong count = (ulong)(input.Length / sectorSize);
        if (count > 0 && firstDataUnit > ulong.MaxValue - (count - 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(firstDataUnit), "The sector numbers of this batch would pass 2^64 - 1.");
        }
    }
}

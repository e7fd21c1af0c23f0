using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// Owns the bytes of one secret key.
/// </summary>
/// <remarks>
/// The bytes live in pinned memory so the garbage collector never moves them and leaves
/// stale copies behind in memory it has compacted; keys of up to 64 bytes live in a region
/// locked in RAM and excluded from core dumps (<see cref="LockedKeyArena"/>) when the system
/// permits. <see cref="Dispose"/> overwrites them with zeros. This narrows, but cannot close, the window in which a key is readable from a
/// memory dump: the platform cipher objects built from a key hold their own (native) copy.
/// Not thread-safe with respect to <see cref="Dispose"/>: do not dispose while another thread
/// still reads <see cref="Span"/>.
/// </remarks>
public sealed class SecretKey : IDisposable
{
    private readonly byte[] _memory;
    private readonly int _offset;
    private readonly int _length;
    private readonly bool _inArena;
    private bool _disposed;

    private SecretKey(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _length = length;
        _offset = length <= LockedKeyArena.SlotSize ? LockedKeyArena.Rent() : -1;
        _inArena = _offset >= 0;
        if (_inArena)
        {
            _memory = LockedKeyArena.Buffer;
        }
        else
        {
            _memory = GC.AllocateArray<byte>(length, pinned: true);
            _offset = 0;
        }
    }

    /// <summary>Number of key bytes (still available after disposal).</summary>
    public int Length => _length;

    /// <summary>Whether the bytes sit in memory locked against swapping (see <see cref="LockedKeyArena"/>).</summary>
    public bool IsLocked => _inArena && LockedKeyArena.IsLocked;

    private Span<byte> Bytes => _memory.AsSpan(_offset, _length);

    /// <summary>The key bytes.</summary>
    /// <exception cref="ObjectDisposedException">The key has been disposed (and zeroed).</exception>
    public ReadOnlySpan<byte> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Bytes;
        }
    }

    /// <summary>
    /// Writable view for code in this assembly that fills a key in place (for example an
    /// unwrap that decrypts straight into the pinned buffer, so no temporary plaintext copy
    /// of the key ever exists).
    /// </summary>
    internal Span<byte> WritableSpan
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Bytes;
        }
    }

    /// <summary>A new key of <paramref name="length"/> bytes from the system CSPRNG.</summary>
    public static SecretKey Generate(int length)
    {
        var key = new SecretKey(length);
        RandomNumberGenerator.Fill(key.Bytes);
        return key;
    }

    /// <summary>A new key holding a copy of <paramref name="bytes"/> (the caller still owns and should wipe the source).</summary>
    public static SecretKey Copy(ReadOnlySpan<byte> bytes)
    {
        var key = new SecretKey(bytes.Length);
        bytes.CopyTo(key.Bytes);
        return key;
    }

    /// <summary>A zero-filled key of <paramref name="length"/> bytes, to be filled through <see cref="WritableSpan"/>.</summary>
    internal static SecretKey CreateZeroed(int length) => new(length);

    /// <summary>
    /// Lower-case hex of the key bytes. Only for escrow / recovery printing
    /// (<c>efs recover</c>): the returned string is immutable and cannot be wiped, so it stays
    /// in managed memory until collected. Never log it and never use it on a data path.
    /// </summary>
    public string ToHex()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Convert.ToHexStringLower(Bytes);
    }

    /// <summary>A key nobody disposed is still wiped, and its locked slot given back.</summary>
    ~SecretKey() => Wipe();

    /// <summary>Zeroes the key bytes. Idempotent.</summary>
    public void Dispose()
    {
        Wipe();
        GC.SuppressFinalize(this);
    }

    private void Wipe()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(Bytes);
        if (_inArena)
        {
            LockedKeyArena.Return(_offset);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"SecretKey({Length} bytes)";
}

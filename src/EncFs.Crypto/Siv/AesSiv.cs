using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// AES-SIV (RFC 5297): deterministic, misuse-resistant authenticated encryption, used where
/// equal inputs must give equal outputs (encrypted file names) or where no nonce can be stored.
/// </summary>
/// <remarks>
/// <para>
/// Key: 32, 48 or 64 bytes (AES-128/192/256-SIV). The first half is K1, the AES-CMAC key of
/// S2V; the second half is K2, the AES-CTR key. EncFs uses 64-byte keys (AES-256-SIV); the
/// shorter sizes exist because the RFC's own test vectors are AES-128-SIV.
/// </para>
/// <para>
/// Associated data is a <em>vector</em> of components, and RFC 5297 distinguishes "no
/// component" from "one empty component" (they give different results). So the number of
/// components is always explicit in the overload you call: no AD argument means zero
/// components; <c>(ad0)</c> means exactly one component, even if it is empty; and so on up to
/// three; the <see cref="ReadOnlySpan{T}"/> of <see cref="ReadOnlyMemory{T}"/> overload takes any
/// number up to <see cref="MaxAssociatedDataComponents"/>. For nonce-based use (RFC 5297
/// section 3) pass the nonce as the last component.
/// </para>
/// <para>
/// Output layout: <c>V (16 bytes, the synthetic IV / tag) || C (same length as the plaintext)</c>.
/// </para>
/// <para>
/// Thread safety: an instance is not guaranteed to be safe for concurrent use; give each thread
/// its own (construction is cheap: two platform AES objects and one block encryption). The
/// implementation keeps all per-call state on the stack and allocates nothing per call.
/// Output buffers must not overlap inputs (checked for the plaintext / ciphertext).
/// </para>
/// </remarks>
public sealed class AesSiv : IDisposable
{
    /// <summary>Bytes added by encryption: the synthetic IV.</summary>
    public const int Overhead = 16;

    /// <summary>Key size for AES-256-SIV, the size EncFs uses.</summary>
    public const int KeySize256 = 64;

    /// <summary>
    /// S2V takes at most 127 strings (the doubling chain has 128 distinct steps); one of them
    /// is the plaintext, leaving 126 for associated data.
    /// </summary>
    public const int MaxAssociatedDataComponents = 126;

    // Keystream bytes produced per platform call: counter blocks for a whole chunk are
    // encrypted in one EncryptEcb call (one call for any input up to this size).
    private const int CtrChunkSize = 4096;

    private const int BlockSize = AesCmac.BlockSize;

    private readonly AesCmac _cmac;
    private readonly Aes _ctr;

    // CMAC_K1(0^128), the first step of S2V. It depends only on the key, so it is computed once.
    private readonly byte[] _d0 = GC.AllocateArray<byte>(BlockSize, pinned: true);
    private bool _disposed;

    /// <param name="key">32, 48 or 64 bytes: K1 (CMAC) || K2 (CTR). Copied; the caller keeps ownership of its buffer.</param>
    public AesSiv(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (32 or 48 or 64))
        {
            throw new ArgumentException($"An AES-SIV key is 32, 48 or 64 bytes (two AES keys), not {key.Length}.", nameof(key));
        }

        int half = key.Length / 2;
        _cmac = new AesCmac(key[..half]);
        _ctr = Aes.Create();
        _ctr.SetKey(key[half..]);

        Span<byte> zero = stackalloc byte[BlockSize];
        zero.Clear();
        _cmac.Compute(zero, _d0);
    }

    // ---- Encrypt -------------------------------------------------------------------------

    /// <summary>Encrypts with zero associated-data components. <paramref name="output"/> is V || C, plaintext.Length + 16 bytes.</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output)
        => EncryptCore(plaintext, output, new Components(0, default, default, default));

    /// <summary>Encrypts with exactly one associated-data component (which may be empty).</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output, ReadOnlySpan<byte> ad0)
        => EncryptCore(plaintext, output, new Components(1, ad0, default, default));

    /// <summary>Encrypts with exactly two associated-data components.</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output, ReadOnlySpan<byte> ad0, ReadOnlySpan<byte> ad1)
        => EncryptCore(plaintext, output, new Components(2, ad0, ad1, default));

    /// <summary>Encrypts with exactly three associated-data components.</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output, ReadOnlySpan<byte> ad0, ReadOnlySpan<byte> ad1, ReadOnlySpan<byte> ad2)
        => EncryptCore(plaintext, output, new Components(3, ad0, ad1, ad2));

    /// <summary>Encrypts with <c>associatedData.Length</c> components (0..126), in order.</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> output, ReadOnlySpan<ReadOnlyMemory<byte>> associatedData)
        => EncryptCore(plaintext, output, new Components(associatedData));

    // ---- Decrypt -------------------------------------------------------------------------

    /// <summary>
    /// Decrypts V || C with zero associated-data components into <paramref name="plaintext"/>
    /// (input.Length - 16 bytes). Returns false, with <paramref name="plaintext"/> zeroed, if
    /// the input is not authentic (wrong key, altered ciphertext or AD, or shorter than 16 bytes).
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext)
        => TryDecryptCore(input, plaintext, new Components(0, default, default, default));

    /// <summary>As <see cref="TryDecrypt(ReadOnlySpan{byte}, Span{byte})"/> with exactly one AD component.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext, ReadOnlySpan<byte> ad0)
        => TryDecryptCore(input, plaintext, new Components(1, ad0, default, default));

    /// <summary>As <see cref="TryDecrypt(ReadOnlySpan{byte}, Span{byte})"/> with exactly two AD components.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext, ReadOnlySpan<byte> ad0, ReadOnlySpan<byte> ad1)
        => TryDecryptCore(input, plaintext, new Components(2, ad0, ad1, default));

    /// <summary>As <see cref="TryDecrypt(ReadOnlySpan{byte}, Span{byte})"/> with exactly three AD components.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext, ReadOnlySpan<byte> ad0, ReadOnlySpan<byte> ad1, ReadOnlySpan<byte> ad2)
        => TryDecryptCore(input, plaintext, new Components(3, ad0, ad1, ad2));

    /// <summary>As <see cref="TryDecrypt(ReadOnlySpan{byte}, Span{byte})"/> with <c>associatedData.Length</c> AD components.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> input, Span<byte> plaintext, ReadOnlySpan<ReadOnlyMemory<byte>> associatedData)
        => TryDecryptCore(input, plaintext, new Components(associatedData));

    /// <summary>Wipes the cached key-dependent state and releases the platform AES objects.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(_d0);
        _cmac.Dispose();
        _ctr.Dispose();
    }

    // ---- Core ----------------------------------------------------------------------------

    private void EncryptCore(ReadOnlySpan<byte> plaintext, Span<byte> output, Components ad)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (output.Length != plaintext.Length + Overhead)
        {
            throw new ArgumentException($"AES-SIV output must be plaintext length + {Overhead} bytes ({plaintext.Length + Overhead}), not {output.Length}.", nameof(output));
        }

        if (plaintext.Overlaps(output))
        {
            throw new ArgumentException("AES-SIV output must not overlap the plaintext.", nameof(output));
        }

        // V = S2V(K1, AD..., P); C = CTR(K2, V, P). V is computed before anything is written.
        Span<byte> v = output[..Overhead];
        S2V(ad, plaintext, v);
        Ctr(v, plaintext, output[Overhead..]);
    }

    private bool TryDecryptCore(ReadOnlySpan<byte> input, Span<byte> plaintext, Components ad)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (input.Length < Overhead)
        {
            // Too short to hold a synthetic IV: cannot be authentic. Not an argument error,
            // because input usually comes from an untrusted medium.
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }

        if (plaintext.Length != input.Length - Overhead)
        {
            throw new ArgumentException($"AES-SIV plaintext buffer must be input length - {Overhead} bytes ({input.Length - Overhead}), not {plaintext.Length}.", nameof(plaintext));
        }

        if (input.Overlaps(plaintext))
        {
            throw new ArgumentException("AES-SIV plaintext buffer must not overlap the input.", nameof(plaintext));
        }

        ReadOnlySpan<byte> v = input[..Overhead];
        Ctr(v, input[Overhead..], plaintext);

        Span<byte> t = stackalloc byte[BlockSize];
        S2V(ad, plaintext, t);
        bool ok = CryptographicOperations.FixedTimeEquals(t, v);
        if (!ok)
        {
            // RFC 5297: on failure release nothing of the candidate plaintext.
            CryptographicOperations.ZeroMemory(plaintext);
        }

        return ok;
    }

    /// <summary>S2V (RFC 5297 section 2.4) over the AD components then the plaintext.</summary>
    private void S2V(Components ad, ReadOnlySpan<byte> plaintext, Span<byte> v)
    {
        Span<byte> d = stackalloc byte[BlockSize];
        Span<byte> t = stackalloc byte[BlockSize];
        _d0.CopyTo(d); // D = CMAC(K, <zero>)

        for (int i = 0; i < ad.Count; i++)
        {
            // D = dbl(D) xor CMAC(K, Si)
            AesCmac.Dbl(d);
            _cmac.Compute(ad[i], t);
            AesCmac.Xor(d, t);
        }

        if (plaintext.Length >= BlockSize)
        {
            // T = Sn xorend D
            _cmac.ComputeXorEnd(plaintext, d, v);
        }
        else
        {
            // T = dbl(D) xor pad(Sn)
            AesCmac.Dbl(d);
            t.Clear();
            plaintext.CopyTo(t);
            t[plaintext.Length] = 0x80;
            AesCmac.Xor(t, d);
            _cmac.Compute(t, v);
        }

        CryptographicOperations.ZeroMemory(d);
        CryptographicOperations.ZeroMemory(t);
    }

    /// <summary>AES-CTR with K2 from Q = V with bits 63 and 31 (counting from the right, from 0) cleared.</summary>
    private void Ctr(ReadOnlySpan<byte> v, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        // Q = V bitand (1^64 || 0^1 || 1^31 || 0^1 || 1^31): clearing these two bits lets
        // implementations that only do 32- or 64-bit counter arithmetic interoperate
        // (RFC 5297 section 2.5). The counter then increments as a 128-bit big-endian integer.
        ulong hi = BinaryPrimitives.ReadUInt64BigEndian(v);
        ulong lo = BinaryPrimitives.ReadUInt64BigEndian(v[8..]) & 0x7FFFFFFF_7FFFFFFFUL;

        Span<byte> counters = stackalloc byte[CtrChunkSize];
        Span<byte> keystream = stackalloc byte[CtrChunkSize];
        while (!source.IsEmpty)
        {
            int n = Math.Min(CtrChunkSize, source.Length);
            int blockBytes = (n + BlockSize - 1) / BlockSize * BlockSize;
            for (int off = 0; off < blockBytes; off += BlockSize)
            {
                BinaryPrimitives.WriteUInt64BigEndian(counters[off..], hi);
                BinaryPrimitives.WriteUInt64BigEndian(counters[(off + 8)..], lo);
                lo++;
                if (lo == 0)
                {
                    hi++;
                }
            }

            _ctr.EncryptEcb(counters[..blockBytes], keystream[..blockBytes], PaddingMode.None);
            AesCmac.XorTo(destination[..n], source[..n], keystream[..n]);
            source = source[n..];
            destination = destination[n..];
        }

        CryptographicOperations.ZeroMemory(keystream);
    }

    /// <summary>The AD vector without allocating: up to three inline spans, or a span of memories.</summary>
    private readonly ref struct Components
    {
        private readonly ReadOnlySpan<byte> _a0;
        private readonly ReadOnlySpan<byte> _a1;
        private readonly ReadOnlySpan<byte> _a2;
        private readonly ReadOnlySpan<ReadOnlyMemory<byte>> _many;
        private readonly bool _useMany;

        public Components(int count, ReadOnlySpan<byte> a0, ReadOnlySpan<byte> a1, ReadOnlySpan<byte> a2)
        {
            Count = count;
            _a0 = a0;
            _a1 = a1;
            _a2 = a2;
            _many = default;
            _useMany = false;
        }

        public Components(ReadOnlySpan<ReadOnlyMemory<byte>> many)
        {
            if (many.Length > MaxAssociatedDataComponents)
            {
                throw new ArgumentException($"AES-SIV takes at most {MaxAssociatedDataComponents} associated-data components, not {many.Length}.", nameof(many));
            }

            Count = many.Length;
            _a0 = default;
            _a1 = default;
            _a2 = default;
            _many = many;
            _useMany = true;
        }

        public int Count { get; }

        public ReadOnlySpan<byte> this[int index] => _useMany
            ? _many[index].Span
            : index switch
            {
                0 => _a0,
                1 => _a1,
                2 => _a2,
                _ => throw new ArgumentOutOfRangeException(nameof(index)),
            };
    }
}

using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// AES-CMAC (NIST SP 800-38B, RFC 4493), the PRF under S2V in AES-SIV.
/// </summary>
/// <remarks>
/// The block cipher is the platform's AES: the CBC chain of CMAC is computed with
/// <see cref="SymmetricAlgorithm.EncryptCbc(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte}, PaddingMode)"/>
/// (chunked, carrying the chaining value as the next chunk's IV), so a message costs a
/// handful of platform calls rather than one per block, and no AES round is written here.
/// All scratch space is on the stack: no allocation per call.
/// Internal because plain CMAC is not part of the product's API; only AES-SIV uses it.
/// </remarks>
internal sealed class AesCmac : IDisposable
{
    public const int BlockSize = 16;

    // Bytes of CBC processed per platform call; the stack holds one chunk of output.
    private const int ChunkSize = 1024;

    private readonly Aes _aes;

    // K1 || K2, the CMAC subkeys (they are functions of the key, so secret too): pinned, wiped on dispose.
    private readonly byte[] _subkeys = GC.AllocateArray<byte>(2 * BlockSize, pinned: true);
    private bool _disposed;

    /// <param name="key">AES key of 16, 24 or 32 bytes.</param>
    public AesCmac(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException($"An AES-CMAC key is 16, 24 or 32 bytes, not {key.Length}.", nameof(key));
        }

        _aes = Aes.Create();
        _aes.SetKey(key);

        // L = AES_K(0^128); K1 = dbl(L); K2 = dbl(K1)   (RFC 4493 section 2.3)
        Span<byte> l = stackalloc byte[BlockSize];
        l.Clear();
        _aes.EncryptEcb(l, l, PaddingMode.None);
        Span<byte> k1 = _subkeys.AsSpan(0, BlockSize);
        Span<byte> k2 = _subkeys.AsSpan(BlockSize, BlockSize);
        l.CopyTo(k1);
        Dbl(k1);
        k1.CopyTo(k2);
        Dbl(k2);
        CryptographicOperations.ZeroMemory(l);
    }

    /// <summary>mac = CMAC(message).</summary>
    public void Compute(ReadOnlySpan<byte> message, Span<byte> mac)
    {
        // The final (possibly partial, possibly empty) block gets the subkey treatment.
        int tailStart = message.IsEmpty ? 0 : (message.Length - 1) / BlockSize * BlockSize;
        Core(message, tailStart, default, mac);
    }

    /// <summary>
    /// mac = CMAC(message xorend xorEnd): the last 16 bytes of the message are XORed with
    /// <paramref name="xorEnd"/> first (S2V's "xorend", RFC 5297 section 2.1), without copying
    /// the whole message.
    /// </summary>
    public void ComputeXorEnd(ReadOnlySpan<byte> message, ReadOnlySpan<byte> xorEnd, Span<byte> mac)
    {
        if (message.Length < BlockSize || xorEnd.Length != BlockSize)
        {
            throw new ArgumentException("xorend needs a message of at least one block and a 16-byte mask.");
        }

        // The tail must hold both the final block and all 16 masked bytes: start it at the
        // block boundary at or before (length - 16). It is then 16..31 bytes long.
        int tailStart = (message.Length - BlockSize) / BlockSize * BlockSize;
        Core(message, tailStart, xorEnd, mac);
    }

    /// <summary>dbl() of RFC 5297 / RFC 4493: multiply by x in GF(2^128), big-endian.</summary>
    public static void Dbl(Span<byte> block)
    {
        // Constant time: the reduction is applied through a mask, not a branch on the secret bit.
        int carry = block[0] >> 7;
        for (int i = 0; i < BlockSize - 1; i++)
        {
            block[i] = (byte)((block[i] << 1) | (block[i + 1] >> 7));
        }

        block[BlockSize - 1] = (byte)((block[BlockSize - 1] << 1) ^ (0x87 & -carry));
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(_subkeys);
        _aes.Dispose();
    }

    private void Core(ReadOnlySpan<byte> message, int tailStart, ReadOnlySpan<byte> xorEnd, Span<byte> mac)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (mac.Length != BlockSize)
        {
            throw new ArgumentException("A CMAC is 16 bytes.", nameof(mac));
        }

        Span<byte> chain = stackalloc byte[BlockSize];
        chain.Clear();

        // 1. Whole blocks before the tail: plain CBC with the running chaining value as IV.
        ReadOnlySpan<byte> prefix = message[..tailStart];
        if (!prefix.IsEmpty)
        {
            Span<byte> scratch = stackalloc byte[ChunkSize];
            while (!prefix.IsEmpty)
            {
                int n = Math.Min(ChunkSize, prefix.Length);
                _aes.EncryptCbc(prefix[..n], chain, scratch[..n], PaddingMode.None);
                scratch.Slice(n - BlockSize, BlockSize).CopyTo(chain);
                prefix = prefix[n..];
            }

            CryptographicOperations.ZeroMemory(scratch);
        }

        // 2. The tail (0..31 bytes), with the xorend mask and the final-block subkey applied.
        ReadOnlySpan<byte> tail = message[tailStart..];
        Span<byte> last = stackalloc byte[2 * BlockSize];
        last.Clear();
        tail.CopyTo(last);
        if (!xorEnd.IsEmpty)
        {
            Xor(last.Slice(tail.Length - BlockSize, BlockSize), xorEnd);
        }

        int blocks;
        ReadOnlySpan<byte> subkey;
        if (tail.Length != 0 && tail.Length % BlockSize == 0)
        {
            blocks = tail.Length / BlockSize;
            subkey = _subkeys.AsSpan(0, BlockSize); // complete final block: K1
        }
        else
        {
            last[tail.Length] = 0x80; // pad: 10*
            blocks = tail.Length / BlockSize + 1;
            subkey = _subkeys.AsSpan(BlockSize, BlockSize); // padded final block: K2
        }

        int used = blocks * BlockSize;
        Xor(last.Slice(used - BlockSize, BlockSize), subkey);

        Span<byte> output = stackalloc byte[2 * BlockSize];
        _aes.EncryptCbc(last[..used], chain, output[..used], PaddingMode.None);
        output.Slice(used - BlockSize, BlockSize).CopyTo(mac);

        CryptographicOperations.ZeroMemory(last);
        CryptographicOperations.ZeroMemory(output);
        CryptographicOperations.ZeroMemory(chain);
    }

    /// <summary>target ^= mask (equal lengths).</summary>
    internal static void Xor(Span<byte> target, ReadOnlySpan<byte> mask) => XorTo(target, target, mask);

    /// <summary>destination = a ^ b, all three of the same length (destination may be a or b).</summary>
    internal static void XorTo(Span<byte> destination, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = destination.Length;
        if (a.Length != n || b.Length != n)
        {
            throw new ArgumentException("XOR operands differ in length.");
        }

        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            (Vector128.Create(a.Slice(i, 16)) ^ Vector128.Create(b.Slice(i, 16))).CopyTo(destination.Slice(i, 16));
        }

        for (; i < n; i++)
        {
            destination[i] = (byte)(a[i] ^ b[i]);
        }
    }
}

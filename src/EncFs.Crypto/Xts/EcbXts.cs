using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EncFs.Crypto.Xts;

/// <summary>
/// AES-256-XTS built on the platform's AES-ECB (System.Security.Cryptography.Aes, i.e. CNG on
/// Windows, OpenSSL on Linux). Only the tweak chain and ciphertext stealing (IEEE 1619 5.3)
/// are done here; every AES block operation is the platform's.
/// </summary>
internal sealed class EcbXts : XtsEngine
{
    // Tweaks for up to this many bytes are built on the stack at once.
    private const int ChunkSize = 4096;
    private const int Block = 16;

    private readonly byte[] _key = GC.AllocateArray<byte>(XtsSectorCipher.KeySize, pinned: true);
    private readonly ContextPool<AesPair> _pool;

    public EcbXts(ReadOnlySpan<byte> key)
    {
        key.CopyTo(_key);
        _pool = new ContextPool<AesPair>(() => new AesPair(_key), ContextPool<AesPair>.DefaultCapacity);
    }

    public override string Name => "ECB";

    public override void Transform(
        bool encrypt, ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> input, Span<byte> output)
    {
        AesPair pair = _pool.Rent();
        try
        {
            Span<byte> scratch = stackalloc byte[ChunkSize];
            ulong unit = firstDataUnit;
            for (int offset = 0; offset < input.Length; offset += sectorSize, unit++)
            {
                TransformUnit(
                    pair, encrypt, unit, input.Slice(offset, sectorSize), output.Slice(offset, sectorSize), scratch);
            }
        }
        finally
        {
            _pool.Return(pair);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pool.Dispose();
        }

        CryptographicOperations.ZeroMemory(_key);
    }

    private static void TransformUnit(
        AesPair pair, bool encrypt, ulong unit, ReadOnlySpan<byte> input, Span<byte> output, Span<byte> scratch)
    {
        // T = AES-enc(key2, data unit number as a 128-bit little-endian integer), in both directions.
        Span<byte> block = stackalloc byte[Block];
        block.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(block, unit);
        pair.TweakKey.EncryptEcb(block, block, PaddingMode.None);
        var tweak = new XtsTweak(block);

        int tail = input.Length % Block;

        // With stealing, the last full block and the partial one are handled together below.
        int bulk = input.Length - tail - (tail == 0 ? 0 : Block);
        for (int offset = 0; offset < bulk; offset += ChunkSize)
        {
            int length = Math.Min(ChunkSize, bulk - offset);
            Span<byte> tweaks = scratch[..length];
            Span<byte> target = output.Slice(offset, length);
            tweak.Fill(tweaks);
            XtsTweak.Xor(input.Slice(offset, length), tweaks, target);
            Crypt(pair.DataKey, encrypt, target);
            XtsTweak.Xor(target, tweaks, target);
        }

        if (tail != 0)
        {
            StealCiphertext(pair.DataKey, encrypt, tweak, input[bulk..], output[bulk..], tail);
        }
    }

    /// <summary>
    /// IEEE 1619 ciphertext stealing over the last full block and the tail of the data unit.
    /// Everything is read into stack buffers before output is written, so in-place works.
    /// </summary>
    private static void StealCiphertext(
        Aes dataKey, bool encrypt, XtsTweak lastFull, ReadOnlySpan<byte> input, Span<byte> output, int tail)
    {
        XtsTweak partial = lastFull;
        partial.MultiplyByAlpha();

        // Encryption uses tweak m-1 then m; decryption must undo them in the reverse order.
        XtsTweak first = encrypt ? lastFull : partial;
        XtsTweak second = encrypt ? partial : lastFull;

        Span<byte> head = stackalloc byte[Block];
        Span<byte> stolen = stackalloc byte[Block];
        input[..Block].CopyTo(head);
        input.Slice(Block, tail).CopyTo(stolen);

        CryptBlock(dataKey, encrypt, first, head);

        // The tail borrows the bytes the short block lacks from the first result.
        head[tail..].CopyTo(stolen[tail..]);
        CryptBlock(dataKey, encrypt, second, stolen);

        head[..tail].CopyTo(output.Slice(Block, tail));
        stolen.CopyTo(output[..Block]);
    }

    private static void CryptBlock(Aes key, bool encrypt, XtsTweak tweak, Span<byte> block)
    {
        Span<byte> mask = stackalloc byte[Block];
        tweak.WriteTo(mask);
        XtsTweak.Xor(block, mask, block);
        Crypt(key, encrypt, block);
        XtsTweak.Xor(block, mask, block);
    }

    private static void Crypt(Aes key, bool encrypt, Span<byte> blocks)
    {
        _ = encrypt
            ? key.EncryptEcb(blocks, blocks, PaddingMode.None)
            : key.DecryptEcb(blocks, blocks, PaddingMode.None);
    }

    /// <summary>key1 for the data, key2 for the tweak.</summary>
    private sealed class AesPair : IDisposable
    {
        public AesPair(byte[] key)
        {
            DataKey = Aes.Create();
            TweakKey = Aes.Create();
            DataKey.SetKey(key.AsSpan(0, 32));
            TweakKey.SetKey(key.AsSpan(32, 32));
        }

        public Aes DataKey { get; }

        public Aes TweakKey { get; }

        public void Dispose()
        {
            DataKey.Dispose();
            TweakKey.Dispose();
        }
    }
}

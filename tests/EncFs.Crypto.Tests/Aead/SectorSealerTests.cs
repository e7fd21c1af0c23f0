using System.Buffers.Binary;
using System.Security.Cryptography;
using EncFs.Crypto;

namespace EncFs.Crypto.Tests.Aead;

public class SectorSealerTests
{
    private const int Sector = 4096;

    private static byte[] Ad(ulong sector)
    {
        byte[] ad = new byte[24];
        "file-id-12345678"u8.CopyTo(ad);
        BinaryPrimitives.WriteUInt64BigEndian(ad.AsSpan(16), sector);
        return ad;
    }

    [Fact]
    public void Platform_supports_chacha20_poly1305_here()
    {
        // The infrastructure layer is a product feature on Linux; if this ever fails the
        // platform lost ChaCha20-Poly1305 and the layer cannot be offered.
        Assert.True(SectorSealer.IsSupported);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(512)]
    [InlineData(Sector)]
    [InlineData(65536)]
    public void Round_trips(int length)
    {
        using var sealer = new SectorSealer(RandomNumberGenerator.GetBytes(32));
        byte[] data = RandomNumberGenerator.GetBytes(length);
        byte[] sealedSector = new byte[length + SectorSealer.Overhead];
        sealer.Seal(Ad(7), data, sealedSector);

        // The ciphertext is not the data (layer actually encrypts).
        if (length >= 16)
        {
            Assert.False(sealedSector.AsSpan(SectorSealer.NonceSize, length).SequenceEqual(data));
        }

        byte[] back = new byte[length];
        Assert.True(sealer.TryOpen(Ad(7), sealedSector, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public void Every_single_bit_flip_of_a_sealed_sector_is_detected()
    {
        using var sealer = new SectorSealer(RandomNumberGenerator.GetBytes(32));
        byte[] data = RandomNumberGenerator.GetBytes(Sector);
        byte[] sealedSector = new byte[Sector + SectorSealer.Overhead];
        byte[] ad = Ad(3);
        sealer.Seal(ad, data, sealedSector);

        byte[] back = new byte[Sector];
        for (int bit = 0; bit < sealedSector.Length * 8; bit++)
        {
            sealedSector[bit / 8] ^= (byte)(1 << (bit % 8));
            back[0] = 0xAA;
            bool opened = sealer.TryOpen(ad, sealedSector, back);
            sealedSector[bit / 8] ^= (byte)(1 << (bit % 8));
            if (opened)
            {
                Assert.Fail($"flipping bit {bit} of the sealed sector went undetected");
            }

            if (back.AsSpan().ContainsAnyExcept((byte)0))
            {
                Assert.Fail($"output not zeroed after refusing bit flip {bit}");
            }
        }

        Assert.True(sealer.TryOpen(ad, sealedSector, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public void Wrong_associated_data_wrong_key_and_truncation_are_detected()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using var sealer = new SectorSealer(key);
        byte[] data = RandomNumberGenerator.GetBytes(Sector);
        byte[] sealedSector = new byte[Sector + SectorSealer.Overhead];
        sealer.Seal(Ad(10), data, sealedSector);
        byte[] back = new byte[Sector];

        // Moved to another sector number (the AD binds it), or no AD at all.
        Assert.False(sealer.TryOpen(Ad(11), sealedSector, back));
        Assert.False(sealer.TryOpen(ReadOnlySpan<byte>.Empty, sealedSector, back));

        // Another key.
        key[0] ^= 1;
        using var other = new SectorSealer(key);
        Assert.False(other.TryOpen(Ad(10), sealedSector, back));

        // Truncated or extended.
        Assert.False(sealer.TryOpen(Ad(10), sealedSector.AsSpan(0, sealedSector.Length - 1), back.AsSpan(0, Sector - 1)));
        byte[] longer = [.. sealedSector, 0];
        Assert.False(sealer.TryOpen(Ad(10), longer, new byte[Sector + 1]));
        Assert.False(sealer.TryOpen(Ad(10), sealedSector.AsSpan(0, SectorSealer.Overhead - 1), Span<byte>.Empty));
    }

    [Fact]
    public void Every_seal_uses_a_fresh_nonce()
    {
        using var sealer = new SectorSealer(RandomNumberGenerator.GetBytes(32));
        byte[] data = new byte[64];
        byte[] sealedSector = new byte[data.Length + SectorSealer.Overhead];
        var nonces = new HashSet<string>();
        var ciphertexts = new HashSet<string>();
        for (int i = 0; i < 20000; i++)
        {
            sealer.Seal(Ad(0), data, sealedSector);
            Assert.True(nonces.Add(Convert.ToHexString(sealedSector.AsSpan(0, SectorSealer.NonceSize))), $"nonce repeated at seal {i}");
            Assert.True(ciphertexts.Add(Convert.ToHexString(sealedSector.AsSpan(SectorSealer.NonceSize))), $"ciphertext repeated at seal {i}");
        }
    }

    [Fact]
    public void Concurrent_seal_and_open_on_one_instance_stay_correct()
    {
        // The platform object is not thread-safe (one OpenSSL context per object); the sealer
        // pools them. Hammer one instance from many threads and check every result.
        using var sealer = new SectorSealer(RandomNumberGenerator.GetBytes(32));
        int failures = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, worker =>
        {
            var rng = new Random(worker);
            byte[] data = new byte[Sector];
            byte[] sealedSector = new byte[Sector + SectorSealer.Overhead];
            byte[] back = new byte[Sector];
            for (int i = 0; i < 400; i++)
            {
                rng.NextBytes(data);
                byte[] ad = Ad((ulong)(worker * 1000 + i));
                sealer.Seal(ad, data, sealedSector);
                if (!sealer.TryOpen(ad, sealedSector, back) || !back.AsSpan().SequenceEqual(data))
                {
                    Interlocked.Increment(ref failures);
                }

                sealedSector[100] ^= 1;
                if (sealer.TryOpen(ad, sealedSector, back))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Steady_state_seal_and_open_allocate_nothing()
    {
        using var sealer = new SectorSealer(RandomNumberGenerator.GetBytes(32));
        byte[] ad = Ad(1);
        byte[] data = RandomNumberGenerator.GetBytes(Sector);
        byte[] sealedSector = new byte[Sector + SectorSealer.Overhead];
        byte[] back = new byte[Sector];

        for (int i = 0; i < 100; i++) // warm up: JIT, pool, platform lazy init
        {
            sealer.Seal(ad, data, sealedSector);
            Assert.True(sealer.TryOpen(ad, sealedSector, back));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sealer.Seal(ad, data, sealedSector);
            sealer.TryOpen(ad, sealedSector, back);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new SectorSealer(new byte[16]));
        using var sealer = new SectorSealer(new byte[32]);
        Assert.Throws<ArgumentException>(() => sealer.Seal(default, new byte[10], new byte[37]));
        Assert.Throws<ArgumentException>(() => sealer.TryOpen(default, new byte[40], new byte[11]));
        byte[] shared = new byte[100];
        Assert.Throws<ArgumentException>(() => sealer.Seal(default, shared.AsSpan(0, 10), shared.AsSpan(5, 38)));
    }

    [Fact]
    public void Disposed_instance_throws()
    {
        var sealer = new SectorSealer(new byte[32]);
        sealer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sealer.Seal(default, new byte[1], new byte[29]));
        Assert.Throws<ObjectDisposedException>(() => sealer.TryOpen(default, new byte[29], new byte[1]));
        sealer.Dispose();
    }
}

using System.Security.Cryptography;
using EncFs.Crypto.Xts;

namespace EncFs.Crypto.Tests.Xts;

/// <summary>Batch, in-place, concurrency and argument checking, for each implementation.</summary>
public class XtsBehaviourTests
{
    public static TheoryData<string, int> EnginesAndSectorSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (string engine in XtsTestSupport.Engines)
        {
            foreach (int size in new[] { 16, 520, 4096, 65536 })
            {
                data.Add(engine, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EnginesAndSectorSizes))]
    public void BatchEqualsPerSectorCalls(string engine, int sectorSize)
    {
        var random = new Random(sectorSize);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(random));
        const int count = 7;
        const ulong first = 0xffff_fffe; // crosses a 32-bit boundary
        byte[] plaintext = XtsTestSupport.RandomBytes(random, sectorSize * count);

        byte[] batch = new byte[plaintext.Length];
        cipher.EncryptSectors(first, sectorSize, plaintext, batch);

        byte[] single = new byte[plaintext.Length];
        for (int i = 0; i < count; i++)
        {
            cipher.Encrypt(first + (ulong)i, plaintext.AsSpan(i * sectorSize, sectorSize), single.AsSpan(i * sectorSize, sectorSize));
        }

        Assert.Equal(single, batch);

        byte[] back = new byte[plaintext.Length];
        cipher.DecryptSectors(first, sectorSize, batch, back);
        Assert.Equal(plaintext, back);
    }

    [Theory]
    [MemberData(nameof(EnginesAndSectorSizes))]
    public void BatchWorksInPlace(string engine, int sectorSize)
    {
        var random = new Random(sectorSize + 1);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(random));
        byte[] plaintext = XtsTestSupport.RandomBytes(random, sectorSize * 3);
        byte[] expected = new byte[plaintext.Length];
        cipher.EncryptSectors(42, sectorSize, plaintext, expected);

        byte[] buffer = (byte[])plaintext.Clone();
        cipher.EncryptSectors(42, sectorSize, buffer, buffer);
        Assert.Equal(expected, buffer);
        cipher.DecryptSectors(42, sectorSize, buffer, buffer);
        Assert.Equal(plaintext, buffer);
    }

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void SingleUnitWorksInPlaceForEveryLength(string engine)
    {
        var random = new Random(7);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(random));
        for (int length = 16; length <= 80; length++)
        {
            byte[] plaintext = XtsTestSupport.RandomBytes(random, length);
            byte[] expected = XtsTestSupport.Encrypt(cipher, 9, plaintext);
            byte[] buffer = (byte[])plaintext.Clone();

            cipher.Encrypt(9, buffer, buffer);
            Assert.Equal(expected, buffer);
            cipher.Decrypt(9, buffer, buffer);
            Assert.Equal(plaintext, buffer);
        }
    }

    [Fact]
    public void BothImplementationsAgree()
    {
        if (!OpenSslXts.IsSupported)
        {
            Assert.False(OperatingSystem.IsLinux(), "libcrypto.so.3 with AES-256-XTS must be available on Linux.");
            return;
        }

        var random = new Random(11);
        for (int i = 0; i < 50; i++)
        {
            byte[] key = XtsTestSupport.RandomKey(random);
            ulong unit = (ulong)random.NextInt64();
            byte[] plaintext = XtsTestSupport.RandomBytes(random, random.Next(16, 5000));
            using XtsSectorCipher openSsl = XtsSectorCipher.CreateOpenSsl(key);
            using XtsSectorCipher ecb = XtsSectorCipher.CreateEcb(key);

            Assert.Equal(XtsTestSupport.Encrypt(openSsl, unit, plaintext), XtsTestSupport.Encrypt(ecb, unit, plaintext));
        }
    }

    [Fact]
    public void UsesOpenSslOnLinux()
    {
        using var cipher = new XtsSectorCipher(XtsTestSupport.RandomKey(new Random(1)));
        Assert.Equal(OperatingSystem.IsLinux() ? XtsTestSupport.OpenSsl : XtsTestSupport.Ecb, cipher.Implementation);
    }

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void ConcurrentCallsOnOneInstanceAreCorrect(string engine)
    {
        var random = new Random(3);
        byte[] key = XtsTestSupport.RandomKey(random);
        const int units = 64;
        int[] sizes = [4096, 16, 33, 520];
        byte[][] plaintexts = [.. Enumerable.Range(0, units).Select(i => XtsTestSupport.RandomBytes(random, sizes[i % sizes.Length]))];
        byte[][] expected;
        using (XtsSectorCipher reference = XtsTestSupport.Create(engine, key))
        {
            expected = [.. plaintexts.Select((p, i) => XtsTestSupport.Encrypt(reference, (ulong)i, p))];
        }

        using XtsSectorCipher shared = XtsTestSupport.Create(engine, key);
        int threads = Math.Max(8, Environment.ProcessorCount * 2);
        using var go = new Barrier(threads);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Thread[] workers = [.. Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            go.SignalAndWait();
            for (int round = 0; round < 200; round++)
            {
                int i = (t * 31 + round) % units;
                byte[] ciphertext = XtsTestSupport.Encrypt(shared, (ulong)i, plaintexts[i]);
                byte[] plaintext = XtsTestSupport.Decrypt(shared, (ulong)i, ciphertext);
                if (!ciphertext.AsSpan().SequenceEqual(expected[i]) || !plaintext.AsSpan().SequenceEqual(plaintexts[i]))
                {
                    failures.Add($"thread {t}, round {round}, unit {i}");
                }
            }
        }))];

        foreach (Thread worker in workers)
        {
            worker.Start();
        }

        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(48)]
    [InlineData(63)]
    [InlineData(65)]
    public void WrongKeyLengthThrows(int length)
    {
        byte[] key = XtsTestSupport.RandomBytes(new Random(length), length);
        Assert.Throws<ArgumentException>(() => new XtsSectorCipher(key));
        foreach (string engine in XtsTestSupport.Engines)
        {
            Assert.Throws<ArgumentException>(() => XtsTestSupport.Create(engine, key));
        }
    }

    [Fact]
    public void EqualKeyHalvesAreRejected()
    {
        byte[] half = XtsTestSupport.RandomBytes(new Random(5), 32);
        byte[] key = [.. half, .. half];
        var error = Assert.Throws<CryptographicException>(() => new XtsSectorCipher(key));
        Assert.Contains("halves", error.Message, StringComparison.Ordinal);
        foreach (string engine in XtsTestSupport.Engines)
        {
            Assert.Throws<CryptographicException>(() => XtsTestSupport.Create(engine, key));
        }
    }

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void InvalidArgumentsThrow(string engine)
    {
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(new Random(2)));
        byte[] buffer = new byte[8192];

        // A data unit is at least one block; output must match the input's length.
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(0, new byte[15], new byte[15]));
        Assert.Throws<ArgumentException>(() => cipher.Decrypt(0, new byte[0], new byte[0]));
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(0, new byte[32], new byte[31]));
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(0, new byte[XtsSectorCipher.MaxDataUnitSize + 16], new byte[XtsSectorCipher.MaxDataUnitSize + 16]));

        // Shifted overlap would corrupt data; exact aliasing is allowed.
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(0, buffer.AsSpan(0, 64), buffer.AsSpan(16, 64)));

        // Batches: whole sectors, a sane sector size, no wrap of the sector number.
        Assert.Throws<ArgumentException>(() => cipher.EncryptSectors(0, 4096, buffer.AsSpan(0, 5000), new byte[5000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => cipher.EncryptSectors(0, 15, buffer.AsSpan(0, 30), new byte[30]));
        Assert.Throws<ArgumentOutOfRangeException>(() => cipher.DecryptSectors(ulong.MaxValue, 4096, buffer, new byte[8192]));
        cipher.EncryptSectors(ulong.MaxValue, 4096, buffer.AsSpan(0, 4096), new byte[4096]);
        cipher.EncryptSectors(5, 4096, [], []);
    }

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void UseAfterDisposeThrows(string engine)
    {
        XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(new Random(4)));
        cipher.Dispose();
        cipher.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cipher.Encrypt(0, new byte[16], new byte[16]));
        Assert.Throws<ObjectDisposedException>(() => cipher.DecryptSectors(0, 16, new byte[32], new byte[32]));
    }

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void DataUnitNumberChangesTheCiphertext(string engine)
    {
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, XtsTestSupport.RandomKey(new Random(6)));
        byte[] plaintext = new byte[4096];
        Assert.NotEqual(XtsTestSupport.Encrypt(cipher, 1, plaintext), XtsTestSupport.Encrypt(cipher, 2, plaintext));
        Assert.NotEqual(XtsTestSupport.Encrypt(cipher, 0, plaintext), XtsTestSupport.Encrypt(cipher, 1UL << 32, plaintext));
    }
}

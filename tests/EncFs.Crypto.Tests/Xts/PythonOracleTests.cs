namespace EncFs.Crypto.Tests.Xts;

/// <summary>
/// Cross-checks against python3-cryptography: what we encrypt it must decrypt, and what it
/// encrypts we must decrypt (and encrypt identically), over many lengths, keys and data unit
/// numbers, including ciphertext stealing and batches.
/// </summary>
public class PythonOracleTests
{
    private static readonly int[] FixedLengths = [16, 17, 31, 32, 33, 47, 100, 512, 520, 4095, 4096, 4097, 65536];

    private static readonly ulong[] EdgeUnits = [0, 1, 0xff, uint.MaxValue, 1UL << 63, ulong.MaxValue];

    [Theory]
    [MemberData(nameof(XtsTestSupport.Engines), MemberType = typeof(XtsTestSupport))]
    public void AgreesWithPythonCryptography(string engine)
    {
        int seed = XtsTestSupport.NewSeed();
        var random = new Random(seed);
        var checks = new List<(string Request, byte[] Expected, string What)>();
        var fromPython = new List<(byte[] Key, ulong Unit, byte[] Plaintext, int Answer)>();

        // The oracle itself is first checked against the standard.
        (ulong vectorUnit, byte[] vectorCiphertext) = IeeeVectors.Get(10);
        checks.Add((PythonXtsOracle.Request(true, IeeeVectorTests.KeyBytes(), vectorUnit, IeeeVectorTests.Plaintext()),
            vectorCiphertext, "IEEE 1619 vector 10 through the oracle"));

        foreach (int length in Lengths(random))
        {
            byte[] key = XtsTestSupport.RandomKey(random);
            ulong unit = random.Next(3) == 0 ? EdgeUnits[random.Next(EdgeUnits.Length)] : (ulong)random.NextInt64() * 2 + (ulong)random.Next(2);
            using XtsSectorCipher cipher = XtsTestSupport.Create(engine, key);
            string what = $"length {length}, data unit {unit}";

            // Ours -> python.
            byte[] plaintext = XtsTestSupport.RandomBytes(random, length);
            checks.Add((PythonXtsOracle.Request(false, key, unit, XtsTestSupport.Encrypt(cipher, unit, plaintext)), plaintext, what));

            // Python -> ours.
            byte[] other = XtsTestSupport.RandomBytes(random, length);
            fromPython.Add((key, unit, other, checks.Count));
            checks.Add((PythonXtsOracle.Request(true, key, unit, other), XtsTestSupport.Encrypt(cipher, unit, other), what));
        }

        AddBatch(engine, random, sectorSize: 4096, count: 8, checks);
        AddBatch(engine, random, sectorSize: 520, count: 5, checks);

        byte[][] answers = PythonXtsOracle.Run([.. checks.Select(c => c.Request)]);

        for (int i = 0; i < checks.Count; i++)
        {
            Assert.True(checks[i].Expected.AsSpan().SequenceEqual(answers[i]), $"{engine}: {checks[i].What} differs from python (seed {seed}).");
        }

        // Python's ciphertexts (the answers to the "enc" requests) decrypt back with our code.
        foreach ((byte[] key, ulong unit, byte[] plaintext, int answer) in fromPython)
        {
            using XtsSectorCipher cipher = XtsTestSupport.Create(engine, key);
            Assert.True(plaintext.AsSpan().SequenceEqual(XtsTestSupport.Decrypt(cipher, unit, answers[answer])),
                $"{engine}: python ciphertext of {plaintext.Length} bytes, data unit {unit}, did not decrypt (seed {seed}).");
        }
    }

    private static IEnumerable<int> Lengths(Random random)
    {
        foreach (int length in FixedLengths)
        {
            yield return length;
        }

        for (int i = 0; i < 40; i++)
        {
            yield return random.Next(3) == 0 ? random.Next(16, 64) : random.Next(16, 9000);
        }
    }

    /// <summary>A batch from EncryptSectors must decrypt in python sector by sector.</summary>
    private static void AddBatch(
        string engine, Random random, int sectorSize, int count, List<(string, byte[], string)> checks)
    {
        byte[] key = XtsTestSupport.RandomKey(random);
        ulong first = (ulong)random.NextInt64();
        byte[] plaintext = XtsTestSupport.RandomBytes(random, sectorSize * count);
        byte[] ciphertext = new byte[plaintext.Length];
        using (XtsSectorCipher cipher = XtsTestSupport.Create(engine, key))
        {
            cipher.EncryptSectors(first, sectorSize, plaintext, ciphertext);
        }

        for (int i = 0; i < count; i++)
        {
            Range sector = (i * sectorSize)..((i + 1) * sectorSize);
            checks.Add((PythonXtsOracle.Request(false, key, first + (ulong)i, ciphertext[sector]), plaintext[sector],
                $"batch of {count} x {sectorSize}, sector {i}"));
        }
    }
}

using System.Text.Json.Nodes;
using EncFs.Crypto;
using EncFs.Crypto.Tests.Oracles;

namespace EncFs.Crypto.Tests.Siv;

/// <summary>AES-SIV against Debian's python3-cryptography <c>AESSIV</c>, in both directions, many cases per process.</summary>
public class AesSivOracleTests
{
    private const string Script = """
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV
        from cryptography.exceptions import InvalidTag
        out = []
        for c in json.load(sys.stdin):
            siv = AESSIV(h(c["key"]))
            ad = [h(a) for a in c["ad"]]
            pt = h(c["pt"])
            theirs = siv.encrypt(pt, ad)
            # open what we sealed
            ours = h(c["ours"])
            opened = siv.decrypt(ours, ad)
            # a tampered copy of what we sealed must be refused
            t = bytearray(ours); t[c["flip"] // 8] ^= 1 << (c["flip"] % 8)
            try:
                siv.decrypt(bytes(t), ad); refused = False
            except InvalidTag:
                refused = True
            out.append({"ct": x(theirs), "opened": x(opened), "refused": refused})
        json.dump(out, sys.stdout)
        """;

    private sealed record Case(byte[] Key, byte[][] Ad, byte[] Plain, byte[] Ours, int Flip);

    [Fact]
    public void Matches_python_for_random_keys_plaintexts_and_ad_vectors()
    {
        var rng = new Random(5297);
        var cases = new List<Case>();

        // 1..300 bytes with 0..3 AD components (some of them empty), AES-256-SIV keys.
        for (int len = 1; len <= 300; len++)
        {
            cases.Add(MakeCase(rng, 64, len, len % 4));
        }

        // Longer inputs that cross the CMAC chunk (1 KiB) and CTR batch (4 KiB) boundaries,
        // more AD components (through the span-of-memories overload), and the other key sizes.
        foreach (int len in new[] { 1023, 1024, 1025, 4095, 4096, 4097, 8193, 20000 })
        {
            cases.Add(MakeCase(rng, 64, len, rng.Next(0, 4)));
        }

        foreach (int adCount in new[] { 4, 7, 20 })
        {
            cases.Add(MakeCase(rng, 64, rng.Next(1, 100), adCount));
        }

        foreach (int keySize in new[] { 32, 48 })
        {
            for (int i = 0; i < 20; i++)
            {
                cases.Add(MakeCase(rng, keySize, rng.Next(1, 70), i % 4));
            }
        }

        var input = new JsonArray();
        foreach (Case c in cases)
        {
            var ad = new JsonArray();
            foreach (byte[] a in c.Ad)
            {
                ad.Add(PythonOracle.Hex(a));
            }

            input.Add(new JsonObject
            {
                ["key"] = PythonOracle.Hex(c.Key),
                ["ad"] = ad,
                ["pt"] = PythonOracle.Hex(c.Plain),
                ["ours"] = PythonOracle.Hex(c.Ours),
                ["flip"] = c.Flip,
            });
        }

        JsonArray results = PythonOracle.Run(Script, input).AsArray();
        Assert.Equal(cases.Count, results.Count);

        for (int i = 0; i < cases.Count; i++)
        {
            Case c = cases[i];
            JsonNode r = results[i]!;
            string what = $"case {i}: key {c.Key.Length} B, plaintext {c.Plain.Length} B, {c.Ad.Length} AD components";

            // python encrypts exactly as we do
            byte[] theirs = PythonOracle.Bytes(r["ct"]);
            Assert.True(theirs.AsSpan().SequenceEqual(c.Ours), what + ": ciphertext differs from python's");

            // python opens ours, and refuses our tampered ciphertext
            Assert.True(PythonOracle.Bytes(r["opened"]).AsSpan().SequenceEqual(c.Plain), what + ": python did not open ours");
            Assert.True((bool)r["refused"]!, what + ": python accepted a tampered ciphertext");

            // we open python's, and refuse it tampered
            using var siv = new AesSiv(c.Key);
            byte[] plain = new byte[theirs.Length - 16];
            Assert.True(Decrypt(siv, theirs, plain, c.Ad), what + ": we did not open python's");
            Assert.Equal(c.Plain, plain);
            theirs[c.Flip / 8] ^= (byte)(1 << (c.Flip % 8));
            Assert.False(Decrypt(siv, theirs, plain, c.Ad), what + ": we accepted a tampered ciphertext");
        }
    }

    private static Case MakeCase(Random rng, int keySize, int length, int adCount)
    {
        byte[] key = new byte[keySize];
        rng.NextBytes(key);
        var ad = new byte[adCount][];
        for (int j = 0; j < adCount; j++)
        {
            // Include empty components: they count, and must not be confused with absent ones.
            ad[j] = new byte[rng.Next(0, 5) == 0 ? 0 : rng.Next(1, 48)];
            rng.NextBytes(ad[j]);
        }

        byte[] plain = new byte[length];
        rng.NextBytes(plain);

        using var siv = new AesSiv(key);
        byte[] ours = new byte[length + AesSiv.Overhead];
        Encrypt(siv, plain, ours, ad);
        return new Case(key, ad, plain, ours, rng.Next(ours.Length * 8));
    }

    // Route through the fixed-arity overloads when they apply, so each is exercised.
    private static void Encrypt(AesSiv siv, byte[] p, byte[] o, byte[][] ad)
    {
        switch (ad.Length)
        {
            case 0: siv.Encrypt(p, o); break;
            case 1: siv.Encrypt(p, o, ad[0]); break;
            case 2: siv.Encrypt(p, o, ad[0], ad[1]); break;
            case 3: siv.Encrypt(p, o, ad[0], ad[1], ad[2]); break;
            default: siv.Encrypt(p, o, Array.ConvertAll(ad, a => (ReadOnlyMemory<byte>)a)); break;
        }
    }

    private static bool Decrypt(AesSiv siv, byte[] c, byte[] p, byte[][] ad) => ad.Length switch
    {
        0 => siv.TryDecrypt(c, p),
        1 => siv.TryDecrypt(c, p, ad[0]),
        2 => siv.TryDecrypt(c, p, ad[0], ad[1]),
        3 => siv.TryDecrypt(c, p, ad[0], ad[1], ad[2]),
        _ => siv.TryDecrypt(c, p, Array.ConvertAll(ad, a => (ReadOnlyMemory<byte>)a)),
    };
}

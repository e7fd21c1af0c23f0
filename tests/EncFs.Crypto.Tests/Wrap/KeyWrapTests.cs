using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Crypto;
using EncFs.Crypto.Tests.Oracles;

namespace EncFs.Crypto.Tests.Wrap;

public class KeyWrapTests
{
    private static readonly byte[] Context = "volume 1f2e / scope default / dek v1"u8.ToArray();

    [Fact]
    public void Round_trips_and_has_the_documented_layout()
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        byte[] dek = RandomNumberGenerator.GetBytes(64);
        byte[] wrapped = KeyWrap.Wrap(kek, dek, Context);
        Assert.Equal(dek.Length + KeyWrap.Overhead, wrapped.Length);
        Assert.Equal(12 + 64 + 16, wrapped.Length);
        Assert.False(wrapped.AsSpan(12, 64).SequenceEqual(dek));

        using SecretKey unwrapped = KeyWrap.Unwrap(kek, wrapped, Context);
        Assert.Equal(dek, unwrapped.Span.ToArray());
    }

    [Fact]
    public void Two_wraps_of_one_key_differ()
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        Assert.NotEqual(KeyWrap.Wrap(kek, dek, Context), KeyWrap.Wrap(kek, dek, Context));
    }

    [Fact]
    public void Wrong_kek_throws_a_precise_exception()
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        byte[] wrapped = KeyWrap.Wrap(kek, RandomNumberGenerator.GetBytes(32), Context);
        kek[31] ^= 0x80;
        var e = Assert.Throws<KeyUnwrapException>(() => KeyWrap.Unwrap(kek, wrapped, Context));
        Assert.IsAssignableFrom<CryptographicException>(e);
        Assert.Contains("wrong key, or the wrapped key or its associated data was altered", e.Message, StringComparison.Ordinal);
        Assert.False(KeyWrap.TryUnwrap(kek, wrapped, Context, out SecretKey? none));
        Assert.Null(none);
    }

    [Fact]
    public void Altered_associated_data_is_refused()
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        byte[] wrapped = KeyWrap.Wrap(kek, RandomNumberGenerator.GetBytes(32), Context);
        Assert.Throws<KeyUnwrapException>(() => KeyWrap.Unwrap(kek, wrapped, "volume 1f2e / scope other / dek v1"u8));
        Assert.Throws<KeyUnwrapException>(() => KeyWrap.Unwrap(kek, wrapped, ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Every_single_bit_flip_and_every_truncation_is_refused()
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        byte[] wrapped = KeyWrap.Wrap(kek, RandomNumberGenerator.GetBytes(32), Context);
        for (int bit = 0; bit < wrapped.Length * 8; bit++)
        {
            byte[] t = (byte[])wrapped.Clone();
            t[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(KeyWrap.TryUnwrap(kek, t, Context, out _), $"bit {bit}");
        }

        for (int len = 0; len < wrapped.Length; len++)
        {
            Assert.False(KeyWrap.TryUnwrap(kek, wrapped.AsSpan(0, len), Context, out _), $"truncated to {len}");
            Assert.Throws<KeyUnwrapException>(() => KeyWrap.Unwrap(kek, wrapped.AsSpan(0, len).ToArray(), Context));
        }
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => KeyWrap.Wrap(new byte[16], new byte[32], default));
        Assert.Throws<ArgumentException>(() => KeyWrap.Wrap(new byte[32], ReadOnlySpan<byte>.Empty, default));
        Assert.Throws<ArgumentException>(() => KeyWrap.Unwrap(new byte[24], new byte[60], default));
    }

    [Fact]
    public void Interoperates_with_python_aesgcm_both_ways()
    {
        const string script = """
            import os
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            out = []
            for c in json.load(sys.stdin):
                g = AESGCM(h(c["kek"]))
                ad = h(c["ad"])
                w = h(c["wrapped"])
                opened = g.decrypt(w[:12], w[12:], ad)
                n = os.urandom(12)
                theirs = n + g.encrypt(n, h(c["key"]), ad)
                out.append({"opened": x(opened), "theirs": x(theirs)})
            json.dump(out, sys.stdout)
            """;

        var rng = new Random(3394);
        var cases = new List<(byte[] Kek, byte[] Key, byte[] Ad)>();
        foreach (int keyLen in new[] { 1, 16, 32, 32, 48, 64, 64, 100 })
        {
            foreach (int adLen in new[] { 0, 1, 36 })
            {
                byte[] kek = new byte[32], key = new byte[keyLen], ad = new byte[adLen];
                rng.NextBytes(kek);
                rng.NextBytes(key);
                rng.NextBytes(ad);
                cases.Add((kek, key, ad));
            }
        }

        var input = new JsonArray();
        foreach (var c in cases)
        {
            input.Add(new JsonObject
            {
                ["kek"] = PythonOracle.Hex(c.Kek),
                ["key"] = PythonOracle.Hex(c.Key),
                ["ad"] = PythonOracle.Hex(c.Ad),
                ["wrapped"] = PythonOracle.Hex(KeyWrap.Wrap(c.Kek, c.Key, c.Ad)),
            });
        }

        JsonArray results = PythonOracle.Run(script, input).AsArray();
        Assert.Equal(cases.Count, results.Count);
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            Assert.True(PythonOracle.Bytes(results[i]!["opened"]).AsSpan().SequenceEqual(c.Key), $"case {i}: python unwrapped something else");
            using SecretKey ours = KeyWrap.Unwrap(c.Kek, PythonOracle.Bytes(results[i]!["theirs"]), c.Ad);
            Assert.True(ours.Span.SequenceEqual(c.Key), $"case {i}: we unwrapped python's to something else");
        }
    }
}

using System.Security.Cryptography;
using System.Text;
using EncFs.Crypto;
using EncFs.Crypto.Tests.Oracles;

namespace EncFs.Crypto.Tests.Kdf;

public class KeyDerivationTests
{
    private static byte[] Range(int from, int toExclusive) => Enumerable.Range(from, toExclusive - from).Select(i => (byte)i).ToArray();

    // RFC 5869 appendix A, test cases 1-3 (SHA-256).
    public static TheoryData<string, byte[], byte[], byte[], int, string> Rfc5869 => new()
    {
        {
            "A.1 basic", Enumerable.Repeat((byte)0x0b, 22).ToArray(), Range(0x00, 0x0d), Range(0xf0, 0xfa), 42,
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        },
        {
            "A.2 longer inputs", Range(0x00, 0x50), Range(0x60, 0xb0), Range(0xb0, 0x100), 82,
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"
        },
        {
            "A.3 zero-length salt and info", Enumerable.Repeat((byte)0x0b, 22).ToArray(), [], [], 42,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        },
    };

    [Theory]
    [MemberData(nameof(Rfc5869))]
    public void Rfc5869_test_cases(string name, byte[] ikm, byte[] salt, byte[] info, int length, string okm)
    {
        byte[] output = new byte[length];
        KeyDerivation.Hkdf(ikm, salt, info, output);
        Assert.True(Convert.ToHexStringLower(output) == okm, name);

        using SecretKey key = KeyDerivation.Hkdf(ikm, salt, info, length);
        Assert.Equal(okm, key.ToHex());
    }

    [Fact]
    public void Empty_salt_is_hashlen_zero_bytes()
    {
        byte[] ikm = RandomNumberGenerator.GetBytes(32);
        byte[] a = new byte[64], b = new byte[64];
        KeyDerivation.Hkdf(ikm, ReadOnlySpan<byte>.Empty, "x"u8, a);
        KeyDerivation.Hkdf(ikm, new byte[32], "x"u8, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Output_length_limits_are_enforced()
    {
        byte[] ikm = new byte[32];
        Assert.Throws<ArgumentException>(() => KeyDerivation.Hkdf(ikm, default, default, Span<byte>.Empty));
        Assert.Throws<ArgumentException>(() => KeyDerivation.Hkdf(ikm, default, default, new byte[KeyDerivation.MaxOutputLength + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => KeyDerivation.Hkdf(ikm, default, default, 0));
        using SecretKey max = KeyDerivation.Hkdf(ikm, default, default, KeyDerivation.MaxOutputLength);
        Assert.Equal(8160, max.Length);
    }

    [Fact]
    public void Matches_the_openssl_cli()
    {
        var rng = new Random(5869);
        var cases = new List<(byte[] Ikm, byte[]? Salt, string? TextInfo, byte[]? BinInfo, int Length)>
        {
            // The brief's shape: 64-byte output, text info, with and without a salt option.
            (Bytes(rng, 64), Bytes(rng, 32), "encfs file key v1", null, 64),
            (Bytes(rng, 64), null, "encfs file key v1", null, 64),
            (Bytes(rng, 32), null, null, null, 32),
            (Bytes(rng, 32), Bytes(rng, 16), null, Bytes(rng, 24), 64),
            (Bytes(rng, 16), Bytes(rng, 1), "a", null, 1),
            (Bytes(rng, 80), Bytes(rng, 80), "names", null, 100),
            (Bytes(rng, 32), null, "xts", null, 8160),
        };

        foreach (var c in cases)
        {
            byte[] expected = OpenSslCli.Hkdf(c.Ikm, c.Salt, c.TextInfo, c.BinInfo, c.Length);
            byte[] info = c.TextInfo is not null ? Encoding.UTF8.GetBytes(c.TextInfo) : c.BinInfo ?? [];
            byte[] ours = new byte[c.Length];
            KeyDerivation.Hkdf(c.Ikm, c.Salt ?? [], info, ours);
            Assert.True(expected.AsSpan().SequenceEqual(ours), $"HKDF mismatch with openssl: ikm {c.Ikm.Length} B, salt {(c.Salt is null ? "none" : c.Salt.Length + " B")}, info '{c.TextInfo}', length {c.Length}");
        }
    }

    private static byte[] Bytes(Random rng, int n)
    {
        byte[] b = new byte[n];
        rng.NextBytes(b);
        return b;
    }
}

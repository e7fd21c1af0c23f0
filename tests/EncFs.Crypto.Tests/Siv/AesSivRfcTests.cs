using EncFs.Crypto;

namespace EncFs.Crypto.Tests.Siv;

/// <summary>RFC 5297 appendix A test vectors, byte for byte, plus the API's contract.</summary>
public class AesSivRfcTests
{
    private static byte[] H(string spacedHex) => Convert.FromHexString(spacedHex.Replace(" ", "", StringComparison.Ordinal));

    // A.1 Deterministic Authenticated Encryption Example (AES-128-SIV, one AD component)
    private static readonly byte[] A1Key = H("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff");
    private static readonly byte[] A1Ad = H("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
    private static readonly byte[] A1Plain = H("11223344 55667788 99aabbcc ddee");
    private static readonly byte[] A1Out = H("85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c");

    // A.2 Nonce-Based Authenticated Encryption Example (two AD components, then the nonce as the last one)
    private static readonly byte[] A2Key = H("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f");
    private static readonly byte[] A2Ad1 = H("00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100");
    private static readonly byte[] A2Ad2 = H("10203040 50607080 90a0");
    private static readonly byte[] A2Nonce = H("09f91102 9d74e35b d84156c5 635688c0");
    private static readonly byte[] A2Plain = H("74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 696e6720 5349562d 414553");
    private static readonly byte[] A2Out = H(
        "7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 " +
        "dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d");

    [Fact]
    public void A1_deterministic_encrypts_to_the_rfc_bytes()
    {
        using var siv = new AesSiv(A1Key);
        byte[] output = new byte[A1Plain.Length + AesSiv.Overhead];
        siv.Encrypt(A1Plain, output, A1Ad);
        Assert.Equal(Convert.ToHexString(A1Out), Convert.ToHexString(output));
    }

    [Fact]
    public void A1_deterministic_decrypts_the_rfc_bytes()
    {
        using var siv = new AesSiv(A1Key);
        byte[] plain = new byte[A1Out.Length - AesSiv.Overhead];
        Assert.True(siv.TryDecrypt(A1Out, plain, A1Ad));
        Assert.Equal(A1Plain, plain);
    }

    [Fact]
    public void A2_nonce_based_encrypts_to_the_rfc_bytes_through_both_ad_apis()
    {
        using var siv = new AesSiv(A2Key);
        byte[] output = new byte[A2Plain.Length + AesSiv.Overhead];
        siv.Encrypt(A2Plain, output, A2Ad1, A2Ad2, A2Nonce);
        Assert.Equal(Convert.ToHexString(A2Out), Convert.ToHexString(output));

        byte[] output2 = new byte[output.Length];
        ReadOnlyMemory<byte>[] components = [A2Ad1, A2Ad2, A2Nonce];
        siv.Encrypt(A2Plain, output2, components);
        Assert.Equal(output, output2);
    }

    [Fact]
    public void A2_nonce_based_decrypts_the_rfc_bytes_through_both_ad_apis()
    {
        using var siv = new AesSiv(A2Key);
        byte[] plain = new byte[A2Out.Length - AesSiv.Overhead];
        Assert.True(siv.TryDecrypt(A2Out, plain, A2Ad1, A2Ad2, A2Nonce));
        Assert.Equal(A2Plain, plain);

        byte[] plain2 = new byte[plain.Length];
        ReadOnlyMemory<byte>[] components = [A2Ad1, A2Ad2, A2Nonce];
        Assert.True(siv.TryDecrypt(A2Out, plain2, components));
        Assert.Equal(A2Plain, plain2);
    }

    [Fact]
    public void Every_single_bit_flip_of_the_rfc_output_is_rejected_and_output_zeroed()
    {
        using var siv = new AesSiv(A2Key);
        byte[] plain = new byte[A2Out.Length - AesSiv.Overhead];
        for (int bit = 0; bit < A2Out.Length * 8; bit++)
        {
            byte[] tampered = (byte[])A2Out.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            plain.AsSpan().Fill(0xAA);
            Assert.False(siv.TryDecrypt(tampered, plain, A2Ad1, A2Ad2, A2Nonce), $"bit {bit}");
            Assert.False(plain.AsSpan().ContainsAnyExcept((byte)0), $"output not zeroed after bit {bit}");
        }
    }

    [Fact]
    public void Wrong_or_reordered_or_missing_ad_is_rejected()
    {
        using var siv = new AesSiv(A2Key);
        byte[] plain = new byte[A2Out.Length - AesSiv.Overhead];
        Assert.False(siv.TryDecrypt(A2Out, plain, A2Ad2, A2Ad1, A2Nonce)); // order matters
        Assert.False(siv.TryDecrypt(A2Out, plain, A2Ad1, A2Ad2)); // nonce missing
        Assert.False(siv.TryDecrypt(A2Out, plain)); // no AD at all
        byte[] otherNonce = (byte[])A2Nonce.Clone();
        otherNonce[0] ^= 1;
        Assert.False(siv.TryDecrypt(A2Out, plain, A2Ad1, A2Ad2, otherNonce));
    }

    [Fact]
    public void No_component_and_one_empty_component_are_different_vectors()
    {
        using var siv = new AesSiv(RandomKey(64));
        byte[] p = [1, 2, 3];
        byte[] none = new byte[p.Length + 16];
        byte[] oneEmpty = new byte[p.Length + 16];
        byte[] viaMemory = new byte[p.Length + 16];
        siv.Encrypt(p, none);
        siv.Encrypt(p, oneEmpty, ReadOnlySpan<byte>.Empty);
        siv.Encrypt(p, viaMemory, new ReadOnlyMemory<byte>[] { ReadOnlyMemory<byte>.Empty });
        Assert.NotEqual(none, oneEmpty);
        Assert.Equal(oneEmpty, viaMemory);

        byte[] back = new byte[p.Length];
        Assert.False(siv.TryDecrypt(oneEmpty, back));
        Assert.True(siv.TryDecrypt(oneEmpty, back, ReadOnlySpan<byte>.Empty));
        Assert.Equal(p, back);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(48)]
    [InlineData(64)]
    public void Round_trips_at_every_key_size_and_many_lengths(int keySize)
    {
        using var siv = new AesSiv(RandomKey(keySize));
        foreach (int len in new[] { 0, 1, 15, 16, 17, 31, 32, 33, 255, 1023, 1024, 1025, 4095, 4096, 4097, 10000 })
        {
            byte[] p = RandomKey(Math.Max(len, 1))[..len];
            byte[] c = new byte[len + 16];
            siv.Encrypt(p, c, "ad"u8);
            byte[] back = new byte[len];
            Assert.True(siv.TryDecrypt(c, back, "ad"u8), $"length {len}");
            Assert.Equal(p, back);
        }
    }

    [Fact]
    public void Is_deterministic_and_key_dependent()
    {
        byte[] key = RandomKey(64);
        using var a = new AesSiv(key);
        using var b = new AesSiv(key);
        key[63] ^= 1;
        using var other = new AesSiv(key);
        byte[] p = "file name.txt"u8.ToArray();
        byte[] ca = new byte[p.Length + 16], cb = new byte[p.Length + 16], co = new byte[p.Length + 16];
        a.Encrypt(p, ca, "dir-id"u8);
        b.Encrypt(p, cb, "dir-id"u8);
        other.Encrypt(p, co, "dir-id"u8);
        Assert.Equal(ca, cb);
        Assert.NotEqual(ca, co);
    }

    [Fact]
    public void Short_input_is_not_authentic()
    {
        using var siv = new AesSiv(RandomKey(64));
        Assert.False(siv.TryDecrypt(new byte[15], Span<byte>.Empty));
        Assert.False(siv.TryDecrypt(ReadOnlySpan<byte>.Empty, Span<byte>.Empty));
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new AesSiv(new byte[16]));
        Assert.Throws<ArgumentException>(() => new AesSiv(new byte[63]));

        using var siv = new AesSiv(RandomKey(64));
        Assert.Throws<ArgumentException>(() => siv.Encrypt(new byte[5], new byte[20]));
        Assert.Throws<ArgumentException>(() => siv.TryDecrypt(new byte[21], new byte[4]));

        byte[] shared = new byte[40];
        Assert.Throws<ArgumentException>(() => siv.Encrypt(shared.AsSpan(0, 10), shared.AsSpan(5, 26)));

        var tooMany = new ReadOnlyMemory<byte>[AesSiv.MaxAssociatedDataComponents + 1];
        Assert.Throws<ArgumentException>(() => siv.Encrypt(new byte[1], new byte[17], tooMany));
        var justEnough = new ReadOnlyMemory<byte>[AesSiv.MaxAssociatedDataComponents];
        siv.Encrypt(new byte[1], new byte[17], justEnough);
    }

    [Fact]
    public void Disposed_instance_throws()
    {
        var siv = new AesSiv(RandomKey(64));
        siv.Dispose();
        Assert.Throws<ObjectDisposedException>(() => siv.Encrypt(new byte[1], new byte[17]));
        siv.Dispose();
    }

    internal static byte[] RandomKey(int n) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(n);
}

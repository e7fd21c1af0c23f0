using EncFs.Crypto;

namespace EncFs.Crypto.Tests.Keys;

public class SecretKeyTests
{
    [Fact]
    public void Generate_gives_random_keys_of_the_requested_length()
    {
        using SecretKey a = SecretKey.Generate(32);
        using SecretKey b = SecretKey.Generate(32);
        Assert.Equal(32, a.Length);
        Assert.Equal(32, a.Span.Length);
        Assert.False(a.Span.SequenceEqual(b.Span));
        Assert.True(a.Span.ContainsAnyExcept((byte)0));
    }

    [Fact]
    public void Copy_is_independent_of_the_source()
    {
        byte[] source = [1, 2, 3, 4, 5];
        using SecretKey key = SecretKey.Copy(source);
        source[0] = 99;
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, key.Span.ToArray());
    }

    [Fact]
    public void Dispose_zeroes_the_bytes_and_blocks_further_reads()
    {
        SecretKey key = SecretKey.Generate(64);
        ReadOnlySpan<byte> view = key.Span; // same pinned array the key owns
        Assert.True(view.ContainsAnyExcept((byte)0));

        key.Dispose();

        Assert.False(view.ContainsAnyExcept((byte)0));
        Assert.Throws<ObjectDisposedException>(() => key.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => key.ToHex());
        Assert.Equal(64, key.Length);
        key.Dispose(); // idempotent
    }

    [Fact]
    public void ToHex_is_lower_case_hex_of_the_bytes()
    {
        using SecretKey key = SecretKey.Copy([0x00, 0xAB, 0x7F, 0xFF]);
        Assert.Equal("00ab7fff", key.ToHex());
    }

    [Fact]
    public void ToString_does_not_reveal_the_key()
    {
        using SecretKey key = SecretKey.Copy([0xDE, 0xAD, 0xBE, 0xEF]);
        Assert.DoesNotContain("de", key.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("4 bytes", key.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Empty_or_negative_lengths_are_rejected(int length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecretKey.Generate(length));
    }

    [Fact]
    public void Copy_of_empty_span_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecretKey.Copy([]));
    }
}

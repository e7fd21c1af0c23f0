using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Names;

namespace EncFs.Core.Tests.Names;

public sealed class NameCipherTests : IDisposable
{
    private readonly NameCipher _names = new(RandomNumberGenerator.GetBytes(64));
    private readonly byte[] _dir1 = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _dir2 = RandomNumberGenerator.GetBytes(16);

    public void Dispose() => _names.Dispose();

    [Theory]
    [InlineData("a")]
    [InlineData("report.txt")]
    [InlineData("ünïcödé 😀 名前")]
    [InlineData(".hidden")]
    [InlineData("exactly-sixteen!")]
    public void Names_round_trip_deterministically_per_directory(string name)
    {
        var first = _names.EncryptName(_dir1, name);
        Assert.Equal(first, _names.EncryptName(_dir1, name));
        Assert.NotEqual(first, _names.EncryptName(_dir2, name));
        Assert.Equal(name, _names.TryDecryptName(_dir1, first));
        Assert.Null(_names.TryDecryptName(_dir2, first));
        Assert.Matches("^[A-Za-z0-9_-]+$", first);
    }

    [Fact]
    public void Name_lengths_leak_only_to_16_bytes()
    {
        var lengths = Enumerable.Range(1, 16).Select(n => _names.EncryptName(_dir1, new string('x', n)).Length).Distinct().ToList();
        Assert.Single(lengths);
        Assert.NotEqual(lengths[0], _names.EncryptName(_dir1, new string('x', 17)).Length);
        Assert.Equal(Base64Url.GetEncodedLength(16 + 16), lengths[0]);
    }

    [Fact]
    public void The_name_limit_is_255_utf8_bytes()
    {
        var max = new string('é', 127) + "a";
        Assert.Equal(255, Encoding.UTF8.GetByteCount(max));
        Assert.Equal(max, _names.TryDecryptName(_dir1, _names.EncryptName(_dir1, max)));
        var e = Assert.Throws<FsException>(() => _names.EncryptName(_dir1, new string('é', 128)));
        Assert.Equal(Errno.ENAMETOOLONG, e.Errno);
    }

    [Fact]
    public void Altered_or_foreign_names_do_not_decrypt()
    {
        var encrypted = _names.EncryptName(_dir1, "name");
        var bytes = Base64Url.DecodeFromChars(encrypted);
        bytes[^1] ^= 1;
        Assert.Null(_names.TryDecryptName(_dir1, Base64Url.EncodeToString(bytes)));
        Assert.Null(_names.TryDecryptName(_dir1, "not base64 !"));
        Assert.Null(_names.TryDecryptName(_dir1, "AAAA"));
        using var otherKey = new NameCipher(RandomNumberGenerator.GetBytes(64));
        Assert.Null(otherKey.TryDecryptName(_dir1, encrypted));
    }

    [Fact]
    public void Symlink_targets_are_randomised_and_limited_to_3000_bytes()
    {
        var a = _names.SealTarget("/etc/passwd");
        var b = _names.SealTarget("/etc/passwd");
        Assert.NotEqual(a, b);
        Assert.Equal("/etc/passwd", _names.TryOpenTarget(a));
        a[20] ^= 1;
        Assert.Null(_names.TryOpenTarget(a));
        Assert.Equal(new string('t', 3000), _names.TryOpenTarget(_names.SealTarget(new string('t', 3000))));
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => _names.SealTarget(new string('t', 3001))).Errno);
    }

    [Fact]
    public void Xattr_names_are_deterministic_and_values_are_bound_to_their_name()
    {
        var name = _names.EncryptXattrName("user.comment");
        Assert.Equal(name, _names.EncryptXattrName("user.comment"));
        Assert.Equal("user.comment", _names.TryDecryptXattrName(name));
        var other = _names.EncryptXattrName("user.other");

        var value = _names.SealXattrValue(name, "hello"u8);
        Assert.Equal("hello"u8.ToArray(), _names.TryOpenXattrValue(name, value));
        Assert.NotEqual(value, _names.SealXattrValue(name, "hello"u8));
        Assert.Null(_names.TryOpenXattrValue(other, value));
        Assert.Empty(_names.TryOpenXattrValue(name, _names.SealXattrValue(name, ReadOnlySpan<byte>.Empty))!);
        Assert.Null(_names.TryOpenXattrValue(name, value.AsSpan(0, 20)));
    }
}

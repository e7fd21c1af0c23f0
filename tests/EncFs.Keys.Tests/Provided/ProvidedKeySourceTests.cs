using System.Security.Cryptography;
using EncFs.Core.Keys;
using EncFs.Keys.Provided;

namespace EncFs.Keys.Tests.Provided;

public sealed class ProvidedKeySourceTests
{
    [Fact]
    public void OnlyTheHashOfTheKeyIsKept()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var (descriptor, kek) = ProvidedKeySource.Create(key);
        kek.Dispose();
        var text = descriptor.ToJsonString();
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(key)), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexStringLower(key), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(key), text, StringComparison.Ordinal);
    }

    [Fact]
    public void AnotherKeyIsRefusedBeforeAnyUnwrap()
    {
        var (descriptor, kek) = ProvidedKeySource.Create(RandomNumberGenerator.GetBytes(32));
        kek.Dispose();
        Assert.Throws<WrongKeyException>(() => ProvidedKeySource.Resolve(descriptor, RandomNumberGenerator.GetBytes(32)));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    public void KeysMustBe256Bits(int length) =>
        Assert.Throws<ArgumentException>(() => ProvidedKeySource.Create(new byte[length]));
}

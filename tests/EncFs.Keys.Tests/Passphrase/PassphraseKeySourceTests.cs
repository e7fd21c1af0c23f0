using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Keys.Passphrase;

namespace EncFs.Keys.Tests.Passphrase;

public sealed class PassphraseKeySourceTests
{
    private static readonly byte[] AssociatedData = "scope binding"u8.ToArray();

    [Fact]
    public void SamePassphraseAndDescriptorGiveTheSameKek()
    {
        var (descriptor, kek) = PassphraseKeySource.Create("hunter2 is not a passphrase"u8, Argon2Parameters.ForTests);
        using (kek)
        {
            var wrapped = kek.Wrap(new byte[32], AssociatedData);
            using var again = PassphraseKeySource.Derive(JsonNode.Parse(descriptor.ToJsonString())!.AsObject(), "hunter2 is not a passphrase"u8);
            using var key = again.Unwrap(wrapped, AssociatedData);
            Assert.Equal(new byte[32], key.Span.ToArray());
        }
    }

    [Fact]
    public void WrongPassphraseIsAWrongKey()
    {
        var (descriptor, kek) = PassphraseKeySource.Create("right"u8, Argon2Parameters.ForTests);
        using (kek)
        {
            var wrapped = kek.Wrap(new byte[32], AssociatedData);
            using var wrong = PassphraseKeySource.Derive(descriptor, "Right"u8);
            Assert.Throws<WrongKeyException>(() => wrong.Unwrap(wrapped, AssociatedData));
        }
    }

    [Fact]
    public void EachVolumeGetsItsOwnSalt()
    {
        var (first, kek1) = PassphraseKeySource.Create("same"u8, Argon2Parameters.ForTests);
        var (second, kek2) = PassphraseKeySource.Create("same"u8, Argon2Parameters.ForTests);
        kek1.Dispose();
        kek2.Dispose();
        Assert.NotEqual(first["argon2id"]!["salt"]!.GetValue<string>(), second["argon2id"]!["salt"]!.GetValue<string>());
    }

    [Fact]
    public void ParametersAreStoredAndChecked()
    {
        var (descriptor, kek) = PassphraseKeySource.Create("p"u8, new Argon2Parameters(8192, 2, 1));
        kek.Dispose();
        var argon = descriptor["argon2id"]!;
        Assert.Equal(8192, argon["memoryKiB"]!.GetValue<int>());
        Assert.Equal(2, argon["iterations"]!.GetValue<int>());

        argon.AsObject()["iterations"] = 0;
        Assert.Throws<InvalidDataException>(() => PassphraseKeySource.Derive(descriptor, "p"u8));
        argon.AsObject().Remove("salt");
        Assert.Throws<InvalidDataException>(() => PassphraseKeySource.Derive(descriptor, "p"u8));
    }

    [Fact]
    public void EmptyPassphraseIsRefused() =>
        Assert.Throws<ArgumentException>(() => PassphraseKeySource.Create(default, Argon2Parameters.ForTests));

    [Fact]
    public void CalibrationStaysWithinBounds()
    {
        var parameters = Argon2Parameters.Calibrate(TimeSpan.FromMilliseconds(100));
        Assert.InRange(parameters.MemoryKiB, Argon2Parameters.MinMemoryKiB, Argon2Parameters.DefaultMemoryKiB);
        Assert.InRange(parameters.Iterations, 1, 64);
        Assert.InRange(parameters.Parallelism, 1, 4);
    }
}

using EncFs.Core.Keys;
using EncFs.Keys.Platform;

namespace EncFs.Keys.Tests.Platform;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PlatformKeySourceTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "efs-platform-" + Guid.NewGuid().ToString("N")[..10]);
    private static readonly byte[] AssociatedData = "aad"u8.ToArray();

    private string Keystore => Path.Combine(_root, "keystore");

    private string Backing => Path.Combine(_root, "backing");

    [Fact]
    public void KeyLivesOwnerOnlyInTheKeystoreAndReopens()
    {
        var (descriptor, kek) = PlatformKeySource.Create(Keystore, Backing);
        byte[] wrapped;
        using (kek)
        {
            wrapped = kek.Wrap(new byte[32], AssociatedData);
        }

        var keyFile = Assert.Single(Directory.GetFiles(Keystore));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Keystore));
        Assert.DoesNotContain(Convert.ToHexStringLower(File.ReadAllBytes(keyFile)), descriptor.ToJsonString(), StringComparison.Ordinal);

        using var reopened = PlatformKeySource.Open(descriptor, null);
        using var key = reopened.Unwrap(wrapped, AssociatedData);
        Assert.Equal(new byte[32], key.Span.ToArray());
    }

    [Fact]
    public void KeystoreInsideTheBackingDirectoryIsRefused() =>
        Assert.Throws<ArgumentException>(() => PlatformKeySource.Create(Path.Combine(Backing, "keys"), Backing));

    [Fact]
    public void DestroyedKeyRevokesForGood()
    {
        var (descriptor, kek) = PlatformKeySource.Create(Keystore, Backing);
        kek.Dispose();
        PlatformKeySource.Destroy(descriptor, null);
        Assert.Empty(Directory.GetFiles(Keystore));
        var error = Assert.Throws<KeyAccessException>(() => PlatformKeySource.Open(descriptor, null));
        Assert.Contains("not in the keystore", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeystoreOpenToOthersIsRefused()
    {
        Directory.CreateDirectory(Keystore);
        File.SetUnixFileMode(Keystore, (UnixFileMode)0x1ED); // 0755
        Assert.Throws<UnauthorizedAccessException>(() => PlatformKeySource.Create(Keystore, Backing));
    }

    [Fact]
    public void DamagedKeyFileIsAClearError()
    {
        var (descriptor, kek) = PlatformKeySource.Create(Keystore, Backing);
        kek.Dispose();
        File.WriteAllBytes(Assert.Single(Directory.GetFiles(Keystore)), new byte[5]);
        var error = Assert.Throws<KeyAccessException>(() => PlatformKeySource.Open(descriptor, null));
        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}

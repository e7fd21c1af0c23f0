using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using EncFs.Core.Backing;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys.AzureKeyVault;
using EncFs.Keys.Provided;

namespace EncFs.Keys.Tests.AzureKeyVault;

/// <summary>A volume with one scope behind a Key Vault key: disabling or deleting the key locks that scope only.</summary>
public sealed class KeyVaultScopeRevocationTests : IAsyncLifetime
{
    private readonly FakeKeyVault _vault = new();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "efs-kv-" + Guid.NewGuid().ToString("N")[..8]);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _vault.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void DisabledOrDeletedVaultKeyLocksItsScopeAndNothingElse()
    {
        var backing = Path.Combine(_directory, "vol");
        Directory.CreateDirectory(_directory);
        var providedKey = RandomNumberGenerator.GetBytes(32);
        var credential = new CountingCredential(_vault.AcceptedToken);
        _vault.AddVersion("scope-kek");

        var (defaultDescriptor, defaultKek) = ProvidedKeySource.Create(providedKey);
        using (defaultKek)
        {
            EncryptedVolume.Create(backing, new VolumeCreateOptions(), defaultDescriptor, defaultKek);
        }

        using (var keys = Credentials(providedKey, credential))
        using (var volume = EncryptedVolume.Open(backing, keys))
        {
            var (descriptor, kek) = AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl("scope-kek")), credential, _vault.ClientOptions());
            using (kek)
            {
                volume.CreateScope("kv", descriptor, kek, infrastructureEncryption: false);
            }

            using (var file = volume.CreateFile("/in-kv-scope", new CreateOptions(0x1A4, Scope: "kv")))
            {
                file.Write(0, "guarded"u8);
            }

            using (var file = volume.CreateFile("/in-default-scope", new CreateOptions(0x1A4)))
            {
                file.Write(0, "plain"u8);
            }
        }

        // Rotation at the vault: the scope still opens (its DEK was wrapped under version 1).
        _vault.AddVersion("scope-kek");
        Assert.Equal("guarded", ReadWith(backing, providedKey, credential, "/in-kv-scope"));

        _vault.SetEnabled("scope-kek", false);
        AssertLocked(backing, providedKey, credential);
        _vault.SetEnabled("scope-kek", true);
        Assert.Equal("guarded", ReadWith(backing, providedKey, credential, "/in-kv-scope"));

        _vault.Delete("scope-kek");
        AssertLocked(backing, providedKey, credential);
    }

    [Fact]
    public void FailingCredentialIsAClearError()
    {
        _vault.AddVersion("kek");
        var e = Assert.Throws<KeyUnavailableException>(() =>
            AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl("kek")), new FailingCredential(), _vault.ClientOptions()));
        Assert.Contains("no Azure credential", e.Message, StringComparison.Ordinal);
        Assert.Contains("token expired", e.Message, StringComparison.Ordinal);
    }

    private void AssertLocked(string backing, byte[] providedKey, CountingCredential credential)
    {
        using var keys = Credentials(providedKey, credential);
        using var volume = EncryptedVolume.Open(backing, keys, new VolumeOpenOptions { ReadOnly = true });
        Assert.Equal("plain", Read(volume, "/in-default-scope"));
        var denied = Assert.Throws<FsException>(() => volume.OpenFile("/in-kv-scope", FileAccess.Read));
        Assert.Equal(Errno.EACCES, denied.Errno);
        Assert.Contains("scope 'kv' is locked", denied.Message, StringComparison.Ordinal);
    }

    private string ReadWith(string backing, byte[] providedKey, CountingCredential credential, string path)
    {
        using var keys = Credentials(providedKey, credential);
        using var volume = EncryptedVolume.Open(backing, keys, new VolumeOpenOptions { ReadOnly = true });
        return Read(volume, path);
    }

    private CredentialKeySource Credentials(byte[] providedKey, TokenCredential credential) =>
        new(passphrase: null, providedKey: SecretKey.Copy(providedKey)) { AzureCredential = credential, AzureKeyVaultOptions = _vault.ClientOptions() };

    private static string Read(EncryptedVolume volume, string path)
    {
        using var file = volume.OpenFile(path, FileAccess.Read);
        var buffer = new byte[64];
        int n = file.Read(0, buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    private sealed class FailingCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new Azure.Identity.AuthenticationFailedException("token expired");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw new Azure.Identity.AuthenticationFailedException("token expired");
    }
}

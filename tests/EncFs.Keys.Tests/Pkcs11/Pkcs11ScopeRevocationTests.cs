using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys.Pkcs11;
using EncFs.Keys.Provided;

namespace EncFs.Keys.Tests.Pkcs11;

/// <summary>A volume with one scope behind a SoftHSM2 key: deleting the key locks that scope only.</summary>
[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11ScopeRevocationTests(SoftHsm hsm)
{
    [Fact]
    public void DeletedTokenKeyLocksItsScopeAndNothingElse()
    {
        var backing = Path.Combine(hsm.Directory, "vol-" + Guid.NewGuid().ToString("N")[..8]);
        var providedKey = RandomNumberGenerator.GetBytes(32);
        var pin = Encoding.ASCII.GetBytes(SoftHsm.Pin);
        var label = "scope-kek-" + Guid.NewGuid().ToString("N")[..8];

        var (defaultDescriptor, defaultKek) = ProvidedKeySource.Create(providedKey);
        using (defaultKek)
        {
            EncryptedVolume.Create(backing, new VolumeCreateOptions(), defaultDescriptor, defaultKek);
        }

        using (var keys = Credentials(providedKey, pin))
        using (var volume = EncryptedVolume.Open(backing, keys))
        {
            var (descriptor, kek) = Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri(label)), pin, out _);
            using (kek)
            {
                volume.CreateScope("hsm", descriptor, kek, infrastructureEncryption: false);
            }

            using (var file = volume.CreateFile("/in-hsm-scope", new CreateOptions(0x1A4, Scope: "hsm")))
            {
                file.Write(0, "guarded"u8);
            }

            using (var file = volume.CreateFile("/in-default-scope", new CreateOptions(0x1A4)))
            {
                file.Write(0, "plain"u8);
            }
        }

        using (var keys = Credentials(providedKey, pin))
        using (var volume = EncryptedVolume.Open(backing, keys, new VolumeOpenOptions { ReadOnly = true }))
        {
            Assert.Equal("guarded", Read(volume, "/in-hsm-scope"));
        }

        hsm.DeleteKey(label);

        using (var keys = Credentials(providedKey, pin))
        using (var volume = EncryptedVolume.Open(backing, keys, new VolumeOpenOptions { ReadOnly = true }))
        {
            Assert.Equal("plain", Read(volume, "/in-default-scope"));
            var denied = Assert.Throws<FsException>(() => volume.OpenFile("/in-hsm-scope", FileAccess.Read));
            Assert.Equal(Errno.EACCES, denied.Errno);
            Assert.Contains("scope 'hsm' is locked", denied.Message, StringComparison.Ordinal);
            Assert.Contains("deleted or revoked", denied.Message, StringComparison.Ordinal);
        }
    }

    private static CredentialKeySource Credentials(byte[] providedKey, byte[] pin) =>
        new(passphrase: null, providedKey: SecretKey.Copy(providedKey)) { Pkcs11Pin = () => SecretKey.Copy(pin) };

    private static string Read(EncryptedVolume volume, string path)
    {
        using var file = volume.OpenFile(path, FileAccess.Read);
        var buffer = new byte[64];
        int n = file.Read(0, buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }
}

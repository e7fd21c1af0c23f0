using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Keys.AzureKeyVault;
using EncFs.Keys.Hardening;
using EncFs.Keys.Passphrase;
using EncFs.Keys.Pkcs11;
using EncFs.Keys.Platform;
using EncFs.Keys.Provided;

namespace EncFs.Cli.Commands;

/// <summary>efs init: a new volume in an empty or missing backing directory.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var backing = new Argument<string>("backing") { Description = "The backing directory (missing or empty) that will hold the encrypted files" };
        var keySource = new Option<string?>("--key-source")
        {
            Description = "Where the default scope's KEK comes from: platform (a key kept in this machine's keystore), passphrase (Argon2id), provided (a raw 256-bit key given at every mount), pkcs11:<RFC 7512 URI> (an AES-256 key inside an HSM token, e.g. 'pkcs11:token=T;object=efs-kek?module-path=/usr/lib/softhsm/libsofthsm2.so' with --pin-file; see docs/KEYS.md) or azure-kv:https://<vault>/keys/<name> (a Key Vault or Managed HSM key, reached with DefaultAzureCredential). Default: passphrase with --passphrase-file, provided with --key-file, else platform",
        };
        keySource.Validators.Add(Pkcs11KeySourceOption.ValidateKeySource);
        var sectorSize = new Option<int>("--sector-size")
        {
            Description = "Sector size in bytes, a power of two from 512 to 65536",
            DefaultValueFactory = _ => SectorLayout.DefaultSectorSize,
        };
        var infrastructure = new Option<bool>("--infrastructure-encryption")
        {
            Description = "Add the authenticated infrastructure layer (ChaCha20-Poly1305, independent key) over every sector",
        };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var credentials = new CredentialOptions();
        var command = new Command("init", "Create a new encrypted volume") { backing, keySource, sectorSize, infrastructure, json };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var dir = Path.GetFullPath(result.GetRequiredValue(backing));
            int size = result.GetValue(sectorSize);
            if (!SectorLayout.IsValidSectorSize(size))
            {
                throw new UsageException($"--sector-size {size} is not a power of two from {SectorLayout.MinSectorSize} to {SectorLayout.MaxSectorSize}");
            }

            ProcessHardening.MakeNonDumpable();
            var source = result.GetValue(keySource)
                ?? (result.GetValue(credentials.PassphraseFile) is not null ? PassphraseKeySource.Type
                    : result.GetValue(credentials.KeyFile) is { Length: > 0 } ? ProvidedKeySource.Type
                    : PlatformKeySource.Type);
            bool pkcs11Generated = false;
            var (descriptor, kek, detail) = source switch
            {
                ProvidedKeySource.Type => CreateProvided(credentials, result),
                PassphraseKeySource.Type => CreatePassphrase(credentials, result),
                _ when Pkcs11KeySourceOption.IsPkcs11(source) => Pkcs11KeySourceOption.Create(credentials, result, source, out pkcs11Generated),
                _ when KeyVaultKeySourceOption.IsAzureKeyVault(source) => KeyVaultKeySourceOption.Create(source),
                _ => CreatePlatform(credentials, result, dir),
            };
            bool layered = result.GetValue(infrastructure);
            using (kek)
            {
                try
                {
                    EncryptedVolume.Create(dir, new VolumeCreateOptions { SectorSize = size, InfrastructureEncryption = layered }, descriptor, kek);
                }
                catch when (source == PlatformKeySource.Type)
                {
                    PlatformKeySource.Destroy(descriptor, null); // no volume: keep no orphan key
                    throw;
                }
                catch when (pkcs11Generated)
                {
                    Pkcs11KeySourceOption.DestroyGenerated((Pkcs11Kek)kek); // no volume: keep no orphan key in the token
                    throw;
                }
            }

            var header = ReadHeader(dir);
            if (result.GetValue(json))
            {
                var output = new JsonObject
                {
                    ["backing"] = dir,
                    ["volumeId"] = header.VolumeId,
                    ["sectorSize"] = header.SectorSize,
                    ["defaultScope"] = header.GetDefaultScope().Name,
                    ["keySource"] = Pkcs11KeySourceOption.IsPkcs11(source) ? descriptor["uri"]?.GetValue<string>()
                        : KeyVaultKeySourceOption.IsAzureKeyVault(source) ? KeyVaultKeySourceOption.Prefix + descriptor["keyUrl"]?.GetValue<string>()
                        : source,
                    ["infrastructureEncryption"] = layered,
                };
                Console.WriteLine(output.ToJsonString());
            }
            else
            {
                Console.WriteLine($"Created volume {header.VolumeId} in {dir}");
                Console.WriteLine($"  data cipher: AES-256-XTS, {header.SectorSize}-byte sectors; infrastructure layer: {(layered ? "ChaCha20-Poly1305" : "off")}");
                Console.WriteLine($"  default scope '{header.GetDefaultScope().Name}', KEK from {(Pkcs11KeySourceOption.IsPkcs11(source) ? Pkcs11KeySource.Type : KeyVaultKeySourceOption.IsAzureKeyVault(source) ? AzureKeyVaultKeySource.Type : source)}{detail}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static (JsonObject, IKeyEncryptionKey, string) CreatePassphrase(CredentialOptions credentials, ParseResult result)
    {
        using var passphrase = credentials.ReadPassphrase(result, interactiveConfirm: true)
            ?? throw new UsageException("no passphrase: give --passphrase-file F (or '-' for standard input)");
        Console.Error.WriteLine("Calibrating Argon2id to about 0.5 s on this machine...");
        var parameters = Argon2Parameters.Calibrate(TimeSpan.FromMilliseconds(500));
        var (descriptor, kek) = PassphraseKeySource.Create(passphrase.Span, parameters);
        return (descriptor, kek, $" ({parameters})");
    }

    private static (JsonObject, IKeyEncryptionKey, string) CreatePlatform(CredentialOptions credentials, ParseResult result, string backing)
    {
        var keystore = PlatformKeySource.ResolveKeystore(result.GetValue(credentials.Keystore));
        try
        {
            var (descriptor, kek) = PlatformKeySource.Create(keystore, backing);
            return (descriptor, kek, $" (key {kek.KeyVersion} in {keystore}; back it up: without it the volume cannot be opened)");
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, e);
        }
    }

    private static (JsonObject, IKeyEncryptionKey, string) CreateProvided(CredentialOptions credentials, ParseResult result)
    {
        using var key = credentials.ReadKey(result)
            ?? throw new UsageException("--key-source provided needs --key-file F (64 hex digits or 32 raw bytes; '-' for standard input)");
        var (descriptor, kek) = ProvidedKeySource.Create(key.Span);
        return (descriptor, kek, " (only its SHA-256 is stored; give the same --key-file at every mount)");
    }

    private static VolumeHeader ReadHeader(string dir) => BackingInspector.ReadHeader(dir);
}

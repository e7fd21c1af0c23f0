using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Format;
using EncFs.Core.Volume;
using EncFs.Keys.Hardening;
using EncFs.Keys.Platform;

namespace EncFs.Cli.Commands;

/// <summary>efs key rotate: a new KEK for a scope (re-wrap, no data touched), or a new DEK generation.</summary>
internal static class KeyCommand
{
    public static Command Create()
    {
        var command = new Command("key", "Rotate keys: re-wrap a scope's DEK under a new KEK, or start a new DEK generation");
        command.Subcommands.Add(RotateVerb());
        return command;
    }

    private static Command RotateVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume's backing directory (unmounted)" };
        var scope = new Option<string?>("--scope") { Description = "Scope name or id (default: the default scope)" };
        var newDek = new Option<bool>("--new-dek") { Description = "Start a new DEK generation for new files instead of changing the KEK" };
        var keySource = new Option<string?>("--key-source") { Description = "The new KEK's source: platform, passphrase (--new-passphrase-file), provided (--new-key-file), pkcs11:<uri> (a new key object) or azure-kv:<key URL>; default: the scope's current one" };
        keySource.Validators.Add(Pkcs11KeySourceOption.ValidateKeySource);
        var newPassphrase = new Option<string?>("--new-passphrase-file") { Description = "The new passphrase" };
        var newKey = new Option<string?>("--new-key-file") { Description = "The new provided key (64 hex digits)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var audit = ScopeCommand.AuditOption();
        var credentials = new CredentialOptions();
        var command = new Command("rotate", "Rotate a scope's KEK (re-wrap only: seconds, whatever the volume size) or its DEK (--new-dek)") { volume, scope, newDek, keySource, newPassphrase, newKey, json, audit };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ProcessHardening.MakeNonDumpable();
            var dir = Path.GetFullPath(result.GetRequiredValue(volume));
            using var keys = credentials.KeySource(result);
            using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = ScopeCommand.OpenAudit(result, audit) });
            var record = opened.Header.FindScope(result.GetValue(scope) ?? opened.Header.DefaultScope)
                ?? throw new UsageException($"no scope '{result.GetValue(scope)}' in this volume");
            var output = new JsonObject { ["scope"] = record.Name };
            if (result.GetValue(newDek))
            {
                using var kek = keys.GetKek(record);
                output["dekGeneration"] = opened.RotateDek(record.Id, kek);
            }
            else
            {
                var oldSource = (JsonObject)record.KeySource.DeepClone();
                var source = result.GetValue(keySource) ?? record.KeySourceType;
                if (source == Keys.Pkcs11.Pkcs11KeySource.Type)
                {
                    throw new UsageException("give the new HSM key explicitly: --key-source pkcs11:<uri of the new key object> (and --pin-file)");
                }

                if (source == Keys.AzureKeyVault.AzureKeyVaultKeySource.Type)
                {
                    // The same Key Vault key: re-wrap with its current version (rotate it in the vault first).
                    source = KeyVaultKeySourceOption.Prefix + record.KeySource["keyUrl"]?.GetValue<string>();
                }

                var (descriptor, kek) = ScopeCommand.NewKeySource(result, source, newPassphrase, newKey, credentials, dir);
                using (kek)
                {
                    opened.RewrapScope(record.Id, descriptor, kek);
                    output["kekId"] = kek.KeyId;
                    output["kekVersion"] = kek.KeyVersion;
                }

                if (oldSource["type"]?.GetValue<string>() == PlatformKeySource.Type)
                {
                    // The old KEK wraps nothing any more: destroy it, so old header copies die with it.
                    PlatformKeySource.Destroy(oldSource, result.GetValue(credentials.Keystore));
                }
            }

            if (result.GetValue(json))
            {
                Console.WriteLine(output.ToJsonString());
            }
            else
            {
                Console.Error.WriteLine(result.GetValue(newDek)
                    ? $"Scope '{record.Name}': new DEK generation {output["dekGeneration"]} for new files"
                    : $"Scope '{record.Name}': DEK re-wrapped under the new KEK {output["kekId"]} ({output["kekVersion"]}); no data was rewritten");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}

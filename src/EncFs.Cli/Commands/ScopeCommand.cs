using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Audit;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys.Hardening;
using EncFs.Keys.Passphrase;
using EncFs.Keys.Platform;
using EncFs.Keys.Provided;

namespace EncFs.Cli.Commands;

/// <summary>
/// efs scope create|list|show|disable|enable: encryption scopes of an unmounted volume. The
/// default scope's credentials open the volume (its key authenticates the header).
/// </summary>
internal static class ScopeCommand
{
    public static Command Create()
    {
        var command = new Command("scope", "Manage encryption scopes (partitions with their own key); scopes are never deleted, only disabled");
        command.Subcommands.Add(CreateVerb());
        command.Subcommands.Add(ListVerb());
        command.Subcommands.Add(ShowVerb());
        command.Subcommands.Add(StateVerb("disable", enabled: false));
        command.Subcommands.Add(StateVerb("enable", enabled: true));
        return command;
    }

    /// <summary>--audit-log F, else $EFS_AUDIT_LOG, else none.</summary>
    public static IAuditLog OpenAudit(ParseResult result, Option<string?> option)
    {
        var path = result.GetValue(option) ?? Environment.GetEnvironmentVariable("EFS_AUDIT_LOG");
        return path is null ? NullAuditLog.Instance : new JsonLinesAuditLog(path);
    }

    public static Option<string?> AuditOption() => new("--audit-log")
    {
        Description = "Append key and scope events as JSON lines to this file (default: $EFS_AUDIT_LOG, else none)",
    };

    private static Command CreateVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory, or its mount point (the serving process creates the scope)" };
        var name = new Argument<string>("name") { Description = "The new scope's name" };
        var keySource = new Option<string>("--key-source")
        {
            Description = "The new scope's KEK: platform (default), passphrase (--new-passphrase-file), provided (--new-key-file), pkcs11:<uri> (--pin-file) or azure-kv:https://<vault>/keys/<name> (DefaultAzureCredential)",
            DefaultValueFactory = _ => PlatformKeySource.Type,
        };
        keySource.Validators.Add(Pkcs11KeySourceOption.ValidateKeySource);
        var newPassphrase = new Option<string?>("--new-passphrase-file") { Description = "The new scope's passphrase" };
        var newKey = new Option<string?>("--new-key-file") { Description = "The new scope's provided key (64 hex digits)" };
        var infrastructure = new Option<bool>("--infrastructure-encryption") { Description = "Add the authenticated infrastructure layer to this scope's files" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var audit = AuditOption();
        var credentials = new CredentialOptions();
        var command = new Command("create", "Create a scope with its own DEK") { volume, name, keySource, newPassphrase, newKey, infrastructure, json, audit };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ProcessHardening.MakeNonDumpable();
            var dir = LiveVolume.BackingOf(result.GetRequiredValue(volume));
            var (descriptor, kek) = NewKeySource(result, result.GetRequiredValue(keySource), newPassphrase, newKey, credentials, dir);
            using (kek)
            {
                if (CreateLive(result, volume, name, descriptor, newPassphrase, newKey, infrastructure) is { } live)
                {
                    Print(result.GetValue(json), live);
                    return ExitCodes.Ok;
                }

                using var keys = credentials.KeySource(result);
                using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = OpenAudit(result, audit) });
                var scope = opened.CreateScope(result.GetRequiredValue(name), descriptor, kek, result.GetValue(infrastructure));
                Print(result.GetValue(json), Describe(opened.Header, scope));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ListVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory or mount point" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("list", "List the volume's scopes (no key needed)") { volume, json };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var header = BackingInspector.ReadHeader(RequireVolume(LiveVolume.BackingOf(result.GetRequiredValue(volume))));
            var scopes = new JsonArray([.. header.Scopes.Select(s => (JsonNode)Describe(header, s))]);
            if (result.GetValue(json))
            {
                Console.WriteLine(new JsonObject { ["scopes"] = scopes }.ToJsonString());
            }
            else
            {
                Console.WriteLine($"{"NAME",-20} {"STATE",-9} {"KEY SOURCE",-11} {"DEK GEN",7} {"INFRA",-5} ID");
                foreach (var scope in header.Scopes)
                {
                    var mark = scope.Id == header.DefaultScope ? " (default)" : string.Empty;
                    Console.WriteLine($"{scope.Name,-20} {scope.State,-9} {scope.KeySourceType,-11} {scope.CurrentGeneration,7} {(scope.InfrastructureEncryption ? "on" : "off"),-5} {scope.Id}{mark}");
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ShowVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory or mount point" };
        var name = new Argument<string>("name") { Description = "Scope name or id" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("show", "Show one scope (no key needed)") { volume, name, json };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var header = BackingInspector.ReadHeader(RequireVolume(LiveVolume.BackingOf(result.GetRequiredValue(volume))));
            var scope = header.FindScope(result.GetRequiredValue(name))
                ?? throw new UsageException($"no scope '{result.GetRequiredValue(name)}' in this volume ('efs scope list' shows them)");
            Print(result.GetValue(json), Describe(header, scope));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command StateVerb(string verb, bool enabled)
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory, or its mount point (the change applies at once, no remount)" };
        var name = new Argument<string>("name") { Description = "Scope name or id" };
        var audit = AuditOption();
        var credentials = new CredentialOptions();
        var command = new Command(verb, enabled ? "Enable a disabled scope: its files are readable again" : "Disable a scope: its files refuse access (EACCES) until enabled, at once on a mounted volume; nothing is deleted") { volume, name, audit };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var scopeName = result.GetRequiredValue(name);
            var live = LiveVolume.TrySend(result.GetRequiredValue(volume), new JsonObject { ["op"] = "scope-" + verb, ["scope"] = scopeName });
            if (live is not null)
            {
                Console.Error.WriteLine($"Scope '{scopeName}' {verb}d on the mounted volume (at once)");
                return ExitCodes.Ok;
            }

            ProcessHardening.MakeNonDumpable();
            var dir = RequireVolume(LiveVolume.BackingOf(result.GetRequiredValue(volume)));
            using var keys = credentials.KeySource(result);
            using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = OpenAudit(result, audit) });
            opened.SetScopeEnabled(scopeName, enabled);
            Console.Error.WriteLine($"Scope '{scopeName}' {verb}d");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// On a mounted volume the serving process creates the scope (its DEK never leaves it); a
    /// passphrase or provided key goes with the request. Null when the volume is not mounted.
    /// </summary>
    private static JsonObject? CreateLive(ParseResult result, Argument<string> volume, Argument<string> name, JsonObject descriptor, Option<string?> newPassphrase, Option<string?> newKey, Option<bool> infrastructure)
    {
        var request = WithSecret(
            new JsonObject
            {
                ["op"] = "scope-create",
                ["name"] = result.GetRequiredValue(name),
                ["keySource"] = descriptor.DeepClone(),
                ["infrastructureEncryption"] = result.GetValue(infrastructure),
            },
            result,
            descriptor,
            newPassphrase,
            newKey);
        var answer = SendOrForgetNewKey(result, request, volume, descriptor);
        return answer is null ? null : new JsonObject { ["name"] = answer["name"]?.DeepClone(), ["id"] = answer["id"]?.DeepClone(), ["keySource"] = answer["keySource"]?.DeepClone(), ["live"] = true };
    }

    /// <summary>A new passphrase or provided key travels with the request: the serving process cannot get it otherwise.</summary>
    internal static JsonObject WithSecret(JsonObject request, ParseResult result, JsonObject descriptor, Option<string?> newPassphrase, Option<string?> newKey)
    {
        var type = descriptor["type"]?.GetValue<string>();
        if (type == PassphraseKeySource.Type)
        {
            request["passphrase"] = File.ReadAllText(result.GetValue(newPassphrase)!).TrimEnd('\n', '\r');
        }
        else if (type == ProvidedKeySource.Type)
        {
            request["providedKey"] = File.ReadAllText(result.GetValue(newKey)!).Trim();
        }

        return request;
    }

    /// <summary>Sends a request carrying a new key source; a platform key made for it is destroyed again if the process refuses.</summary>
    internal static JsonObject? SendOrForgetNewKey(ParseResult result, JsonObject request, Argument<string> volume, JsonObject descriptor)
    {
        try
        {
            return LiveVolume.TrySend(result.GetRequiredValue(volume), request);
        }
        catch (RemoteFailureException)
        {
            if (descriptor["type"]?.GetValue<string>() == PlatformKeySource.Type)
            {
                PlatformKeySource.Destroy(descriptor, result.GetValue<string?>("--keystore"));
            }

            throw;
        }
    }

    internal static (JsonObject, IKeyEncryptionKey) NewKeySource(ParseResult result, string source, Option<string?> passphraseFile, Option<string?> keyFile, CredentialOptions credentials, string backing)
    {
        if (Pkcs11KeySourceOption.IsPkcs11(source))
        {
            var (descriptor, kek, _) = Pkcs11KeySourceOption.Create(credentials, result, source, out _);
            return (descriptor, kek);
        }

        if (KeyVaultKeySourceOption.IsAzureKeyVault(source))
        {
            var (descriptor, kek, _) = KeyVaultKeySourceOption.Create(source);
            return (descriptor, kek);
        }

        switch (source)
        {
            case PassphraseKeySource.Type:
                var path = result.GetValue(passphraseFile) ?? throw new UsageException("--key-source passphrase needs --new-passphrase-file F");
                var text = File.ReadAllText(path).TrimEnd('\n', '\r');
                if (text.Length == 0)
                {
                    throw new UsageException($"the passphrase file '{path}' is empty");
                }

                Console.Error.WriteLine("Calibrating Argon2id to about 0.5 s on this machine...");
                return PassphraseKeySource.Create(System.Text.Encoding.UTF8.GetBytes(text), Argon2Parameters.Calibrate(TimeSpan.FromMilliseconds(500)));
            case ProvidedKeySource.Type:
                var keyPath = result.GetValue(keyFile) ?? throw new UsageException("--key-source provided needs --new-key-file F");
                var hex = File.ReadAllText(keyPath).Trim();
                if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
                {
                    throw new UsageException($"the key file '{keyPath}' must hold 64 hex digits");
                }

                using (var key = SecretKey.Copy(Convert.FromHexString(hex)))
                {
                    return ProvidedKeySource.Create(key.Span);
                }

            default:
                return PlatformKeySource.Create(PlatformKeySource.ResolveKeystore(result.GetValue(credentials.Keystore)), backing);
        }
    }

    /// <summary>One scope as status and scope commands print it.</summary>
    internal static JsonObject Describe(VolumeHeader header, ScopeRecord scope)
    {
        var key = scope.FindKey(scope.CurrentGeneration);
        return new JsonObject
        {
            ["name"] = scope.Name,
            ["id"] = scope.Id,
            ["state"] = scope.State,
            ["default"] = scope.Id == header.DefaultScope,
            ["keySource"] = scope.KeySourceType,
            ["kekId"] = key?.KekId,
            ["kekVersion"] = key?.KekVersion,
            ["dekGeneration"] = scope.CurrentGeneration,
            ["infrastructureEncryption"] = scope.InfrastructureEncryption,
        };
    }

    private static void Print(bool json, JsonObject value)
    {
        if (json)
        {
            Console.WriteLine(value.ToJsonString());
            return;
        }

        foreach (var (name, node) in value)
        {
            Console.WriteLine($"{name}: {node?.ToString() ?? "-"}");
        }
    }

    private static string RequireVolume(string path)
    {
        var dir = Path.GetFullPath(path);
        if (!VolumeHeaderFile.Exists(dir))
        {
            throw new UsageException($"'{dir}' is not an EncFs volume's backing directory");
        }

        return dir;
    }
}

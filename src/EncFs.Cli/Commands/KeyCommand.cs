using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Format;
using EncFs.Core.Keys;
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
        command.Subcommands.Add(CheckVerb());
        command.Subcommands.Add(ReencryptVerb());
        return command;
    }

    /// <summary>
    /// efs key reencrypt: rewrites what older DEK generations encrypt, then destroys the unused
    /// ones. On a mounted volume it runs in the daemon, in the background (--wait follows it).
    /// </summary>
    private static Command ReencryptVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory, or its mount point (the daemon does it in the background)" };
        var scope = new Option<string?>("--scope") { Description = "Only this scope (default: every scope)" };
        var rate = new Option<double>("--rate") { Description = "At most this many MiB rewritten per second (0: unthrottled)", DefaultValueFactory = _ => 0 };
        var wait = new Option<bool>("--wait") { Description = "On a mounted volume, follow the background job until it ends" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var audit = ScopeCommand.AuditOption();
        var credentials = new CredentialOptions();
        var command = new Command("reencrypt", "Re-encrypt files and symlinks still under an older DEK generation (after 'key rotate --new-dek'), then destroy generations nothing uses; resumable, throttled") { volume, scope, rate, wait, json, audit };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            long bytesPerSecond = (long)(result.GetValue(rate) * 1024 * 1024);
            var request = new JsonObject { ["op"] = "reencrypt", ["scope"] = result.GetValue(scope), ["bytesPerSecond"] = bytesPerSecond };
            if (LiveVolume.TrySend(result.GetRequiredValue(volume), request) is { } started)
            {
                var state = started["reencryption"]!.AsObject();
                while (result.GetValue(wait) && state["state"]?.GetValue<string>() == "running")
                {
                    Thread.Sleep(250);
                    state = LiveVolume.TrySend(result.GetRequiredValue(volume), new JsonObject { ["op"] = "jobs" })?["reencryption"]?.AsObject()
                        ?? throw new RemoteFailureException("the volume was unmounted while re-encrypting; the job resumes at the next mount");
                    if (!result.GetValue(json))
                    {
                        WriteProgress(state["entriesScanned"]?.GetValue<long>() ?? 0, state["filesRewritten"]?.GetValue<long>() ?? 0, state["bytesRewritten"]?.GetValue<long>() ?? 0);
                    }
                }

                return Report(result.GetValue(json), state, result.GetValue(wait));
            }

            ProcessHardening.MakeNonDumpable();
            var dir = LiveVolume.BackingOf(result.GetRequiredValue(volume));
            using var keys = credentials.KeySource(result);
            using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = ScopeCommand.OpenAudit(result, audit) });
            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            var progress = new Progress<ReencryptionProgress>(p =>
            {
                if (!result.GetValue(json))
                {
                    WriteProgress(p.EntriesScanned, p.FilesRewritten, p.BytesRewritten);
                }
            });
            var report = opened.Reencrypt(result.GetValue(scope), rekeyDirectories: true, bytesPerSecond, progress, cancel.Token);
            var output = new JsonObject
            {
                ["state"] = report.Problems.Count == 0 ? "done" : "incomplete",
                ["entriesScanned"] = report.Progress.EntriesScanned,
                ["filesRewritten"] = report.Progress.FilesRewritten,
                ["bytesRewritten"] = report.Progress.BytesRewritten,
                ["symlinksRewritten"] = report.Progress.SymlinksRewritten,
                ["directoriesRekeyed"] = report.Progress.DirectoriesRekeyed,
                ["destroyed"] = new JsonArray([.. report.Destroyed.Select(d => (JsonNode)d)]),
                ["kept"] = new JsonArray([.. report.Kept.Select(k => (JsonNode)k)]),
                ["problems"] = new JsonArray([.. report.Problems.Select(p => (JsonNode)p)]),
            };
            return Report(result.GetValue(json), output, finished: true);
        }));
        return command;
    }

    private static void WriteProgress(long entries, long files, long bytes) =>
        Console.Error.Write($"\rre-encrypting: {entries} entries scanned, {files} files ({bytes / (1024 * 1024)} MiB) rewritten   ");

    private static int Report(bool json, JsonObject state, bool finished)
    {
        if (json)
        {
            Console.WriteLine(state.ToJsonString());
        }
        else if (!finished)
        {
            Console.Error.WriteLine("Re-encryption started in the background; 'efs key reencrypt <volume> --wait' or 'efs service status' follow it");
        }
        else
        {
            Console.Error.WriteLine();
            Console.Error.WriteLine($"Re-encryption {state["state"]}: {state["filesRewritten"]} file(s), {state["symlinksRewritten"]} symlink(s) rewritten, {state["directoriesRekeyed"] ?? 0} directories re-keyed");
            foreach (var line in (state["destroyed"]?.AsArray() ?? []).Select(d => $"  destroyed: {d}")
                .Concat((state["kept"]?.AsArray() ?? []).Select(k => $"  kept: {k}"))
                .Concat((state["problems"] as JsonArray ?? []).Select(p => $"  problem: {p}")))
            {
                Console.Error.WriteLine(line);
            }
        }

        var outcome = state["state"]?.GetValue<string>();
        return outcome is "done" or "running" ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>efs key check: asks a mounted volume to check every scope's KEK at its source now.</summary>
    private static Command CheckVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The mounted volume: its mount point or backing directory" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("check", "Check now that each scope's KEK is still granted at its source (a revoked one locks its scope) and adopt new key versions") { volume, json };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var answer = LiveVolume.TrySend(result.GetRequiredValue(volume), new JsonObject { ["op"] = "key-check" })
                ?? throw new UsageException($"'{result.GetRequiredValue(volume)}' is not mounted: keys are checked when a volume is opened");
            var scopes = answer["scopes"]!.AsArray();
            if (result.GetValue(json))
            {
                Console.WriteLine(scopes.ToJsonString());
            }
            else
            {
                foreach (var scope in scopes)
                {
                    Console.WriteLine($"{scope!["scope"]}: {scope["outcome"]} ({scope["detail"]})");
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command RotateVerb()
    {
        var volume = new Argument<string>("volume") { Description = "The volume: its backing directory, or its mount point (the serving process re-wraps at once)" };
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
            var dir = LiveVolume.BackingOf(result.GetRequiredValue(volume));
            JsonObject output;
            if (result.GetValue(newDek))
            {
                output = LiveVolume.TrySend(result.GetRequiredValue(volume), new JsonObject { ["op"] = "key-rotate", ["scope"] = result.GetValue(scope), ["newDek"] = true })
                    ?? RotateDekOffline(result, dir, scope, credentials, audit);
            }
            else
            {
                // The new KEK is made here, the same way mounted or not; a mounted volume's process
                // then re-wraps with it (resolving it with its own credentials, or the secret sent).
                var header = BackingInspector.ReadHeader(dir);
                var record = header.FindScope(result.GetValue(scope) ?? header.DefaultScope)
                    ?? throw new UsageException($"no scope '{result.GetValue(scope)}' in this volume");
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
                    var request = ScopeCommand.WithSecret(new JsonObject { ["op"] = "key-rotate", ["scope"] = record.Id, ["keySource"] = descriptor.DeepClone() }, result, descriptor, newPassphrase, newKey);
                    output = ScopeCommand.SendOrForgetNewKey(result, request, volume, descriptor) ?? RewrapOffline(result, dir, record.Id, descriptor, kek, credentials, audit);
                    output["scope"] = record.Name;
                }

                if (oldSource["type"]?.GetValue<string>() == PlatformKeySource.Type && oldSource.ToJsonString() != descriptor.ToJsonString())
                {
                    // The old KEK wraps nothing any more: destroy it, so old header copies die with it.
                    PlatformKeySource.Destroy(oldSource, result.GetValue(credentials.Keystore));
                }
            }

            PrintRotation(result.GetValue(json), result.GetValue(newDek), output);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static JsonObject RotateDekOffline(ParseResult result, string dir, Option<string?> scope, CredentialOptions credentials, Option<string?> audit)
    {
        using var keys = credentials.KeySource(result);
        using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = ScopeCommand.OpenAudit(result, audit) });
        var record = opened.Header.FindScope(result.GetValue(scope) ?? opened.Header.DefaultScope)
            ?? throw new UsageException($"no scope '{result.GetValue(scope)}' in this volume");
        using var kek = keys.GetKek(record);
        return new JsonObject { ["scope"] = record.Name, ["dekGeneration"] = opened.RotateDek(record.Id, kek) };
    }

    private static JsonObject RewrapOffline(ParseResult result, string dir, string scopeId, JsonObject descriptor, IKeyEncryptionKey kek, CredentialOptions credentials, Option<string?> audit)
    {
        using var keys = credentials.KeySource(result);
        using var opened = EncryptedVolume.Open(dir, keys, new VolumeOpenOptions { Audit = ScopeCommand.OpenAudit(result, audit) });
        opened.RewrapScope(scopeId, descriptor, kek);
        return new JsonObject { ["kekId"] = kek.KeyId, ["kekVersion"] = kek.KeyVersion };
    }

    private static void PrintRotation(bool json, bool newDek, JsonObject output)
    {
        output.Remove("ok");
        if (json)
        {
            Console.WriteLine(output.ToJsonString());
        }
        else
        {
            Console.Error.WriteLine(newDek
                ? $"Scope '{output["scope"]}': new DEK generation {output["dekGeneration"]} for new files"
                : $"Scope '{output["scope"]}': DEK re-wrapped under the KEK {output["kekId"]} ({output["kekVersion"]}); no data was rewritten");
        }
    }
}

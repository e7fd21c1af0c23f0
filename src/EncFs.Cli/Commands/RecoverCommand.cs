using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Volume;
using EncFs.Keys.Hardening;

namespace EncFs.Cli.Commands;

/// <summary>efs recover: escrow — print a scope's DEK given the KEK credentials.</summary>
internal static class RecoverCommand
{
    public static Command Create()
    {
        var backing = new Argument<string>("backing") { Description = "The volume's backing directory" };
        var scope = new Option<string?>("--scope") { Description = "Scope name or id (default: the volume's default scope)" };
        var generation = new Option<int?>("--generation") { Description = "DEK generation (default: the scope's current one)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var credentials = new CredentialOptions();
        var command = new Command("recover", "Print a scope's data encryption key (hex) for escrow; needs the KEK credentials") { backing, scope, generation, json };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ProcessHardening.MakeNonDumpable();
            var dir = Path.GetFullPath(result.GetRequiredValue(backing));
            using var keySource = credentials.KeySource(result);
            using var volume = EncryptedVolume.Open(dir, keySource, new VolumeOpenOptions { ReadOnly = true });
            var record = volume.Header.FindScope(result.GetValue(scope) ?? volume.Header.DefaultScope)
                ?? throw new UsageException($"no scope '{result.GetValue(scope)}' in this volume; 'efs status {dir}' lists them");
            var keys = volume.GetScopeKeys(record.Id, result.GetValue(generation));
            var dek = Convert.ToHexStringLower(keys.DataEncryptionKey);
            Console.Error.WriteLine($"efs: this is the data key of scope '{record.Name}': whoever holds it can read the scope's files. Store it like the KEK.");
            if (result.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["volumeId"] = volume.Header.VolumeId,
                    ["scopeId"] = record.Id,
                    ["scope"] = record.Name,
                    ["generation"] = keys.Generation,
                    ["dek"] = dek,
                    ["infrastructureKey"] = keys.InfrastructureKeyHex(),
                }.ToJsonString());
            }
            else
            {
                Console.WriteLine(dek);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}

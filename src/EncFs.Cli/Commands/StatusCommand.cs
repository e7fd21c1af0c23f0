using System.CommandLine;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Format;
using EncFs.Core.Volume;

namespace EncFs.Cli.Commands;

/// <summary>efs status: the encryption status of a volume or of one of its backing entries. Needs no key.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A path inside a mounted volume, a volume's backing directory, or a backing file or directory" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var command = new Command("status", "Show how a volume, file or directory is encrypted (scope, key source, key version, layers)") { path, json };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var target = Path.GetFullPath(result.GetRequiredValue(path));
            if (!File.Exists(target) && !Directory.Exists(target))
            {
                throw new UsageException($"'{target}' does not exist");
            }

            var root = BackingInspector.FindVolumeRoot(target);
            var output = root is not null
                ? (target == root ? VolumeStatus(root) : EntryStatus(root, target))
                : Fuse.MountedStatus.Query(target)
                    ?? throw new UsageException($"'{target}' is neither inside an efs mount nor inside a volume's backing directory");
            if (result.GetValue(json))
            {
                Console.WriteLine(output.ToJsonString());
            }
            else
            {
                Print(output, 0);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static JsonObject VolumeStatus(string root)
    {
        var header = BackingInspector.ReadHeader(root);
        var scopes = new JsonArray([.. header.Scopes.Select(s => (JsonNode)ScopeCommand.Describe(header, s))]);

        return new JsonObject
        {
            ["kind"] = "volume",
            ["path"] = root,
            ["encrypted"] = true,
            ["formatVersion"] = header.Version,
            ["volumeId"] = header.VolumeId,
            ["dataCipher"] = "AES-256-XTS",
            ["sectorSize"] = header.SectorSize,
            ["scopes"] = scopes,
        };
    }

    private static JsonObject EntryStatus(string root, string target)
    {
        var treeRoot = Path.Combine(root, EncryptedVolume.TreeDirectory);
        if (!target.StartsWith(treeRoot, StringComparison.Ordinal))
        {
            throw new UsageException($"'{target}' is volume metadata, not an encrypted entry; ask about '{root}' for the volume");
        }

        return Fuse.MountedStatus.ToJson(BackingInspector.Inspect(root, target));
    }

    private static void Print(JsonObject output, int indent)
    {
        foreach (var (name, value) in output)
        {
            if (value is JsonArray array)
            {
                Console.WriteLine($"{new string(' ', indent)}{name}:");
                foreach (var item in array.OfType<JsonObject>())
                {
                    Print(item, indent + 2);
                    Console.WriteLine();
                }
            }
            else
            {
                Console.WriteLine($"{new string(' ', indent)}{name}: {value?.ToString() ?? "-"}");
            }
        }
    }
}

using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace EncFs.Attack.Tests.Support;

/// <summary>
/// A fresh empty volume made once with `efs init` (provided key: no Argon2) and copied with
/// `cp -a` for each test, with a scratch directory for the known tree and extra files.
/// </summary>
public sealed class TestVolume : IDisposable
{
    private static readonly Lazy<string> Template = new(CreateTemplate);
    private readonly ScratchDirectory _scratch = new();

    public TestVolume()
    {
        Backing = Path.Combine(_scratch.Path, "backing");
        Known = Path.Combine(_scratch.Path, "known");
        Directory.CreateDirectory(Known);
        ProcessRunner.Run("cp", ["-a", Template.Value, Backing]).EnsureSuccess();
    }

    public string Backing { get; }

    public string Tree => Path.Combine(Backing, "root");

    public string Known { get; }

    public string Scratch => _scratch.Path;

    public string WriteKnown(string relative, byte[] contents)
    {
        var path = Path.Combine(Known, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, contents);
        return path;
    }

    public string WriteScratch(string name, string text)
    {
        var path = Path.Combine(Scratch, name);
        File.WriteAllText(path, text);
        return path;
    }

    public AttackReport Attack(string? keys = null, string? earlier = null) =>
        AttackAnalyzer.Run(new AttackOptions(Backing) { Known = Known, KeysFile = keys, Earlier = earlier });

    public void Dispose() => _scratch.Dispose();

    private static string CreateTemplate()
    {
        var dir = Path.Combine(Path.GetTempPath(), "efs-attack-template-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var key = Path.Combine(dir, "key");
        File.WriteAllText(key, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n");
        ProcessRunner.Efs("init", Path.Combine(dir, "backing"), "--key-source", "provided", "--key-file", key).EnsureSuccess();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return Path.Combine(dir, "backing");
    }
}

public static class Xattr
{
    public static void Set(string path, string name, string value)
    {
        Tools.Require("setfattr", "attr");
        ProcessRunner.Run("setfattr", ["-h", "-n", name, "-v", value, path]).EnsureSuccess();
    }
}

public static class Json
{
    public static JsonArray Findings(string jsonFile) => (JsonArray)JsonNode.Parse(File.ReadAllText(jsonFile))!["findings"]!;

    public static IEnumerable<JsonNode> Leaks(string jsonFile) =>
        Findings(jsonFile).Select(f => f!).Where(f => (string)f["kind"]! is "plaintext-leak" or "name-leak" or "key-material");
}

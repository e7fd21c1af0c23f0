using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Commands;

/// <summary>efs key rotate: KEK rotation re-wraps without touching data; DEK rotation starts a new generation.</summary>
public sealed class KeyRotateTests
{
    [Fact]
    public void KekRotationChangesTheKeyButNoDataFile()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        File.WriteAllText(temp.Combine("old"), new string('a', 64));
        File.WriteAllText(temp.Combine("new"), new string('b', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-file", temp.Combine("old")).ExitCode);
        var dek = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("old")).Stdout;
        var tree = Snapshot(Path.Combine(backing, "root"));

        var rotate = ProcessRunner.Efs("key", "rotate", backing, "--key-file", temp.Combine("old"), "--new-key-file", temp.Combine("new"), "--json");
        Assert.True(rotate.ExitCode == 0, rotate.ToString());

        Assert.Equal(tree, Snapshot(Path.Combine(backing, "root")));
        var oldKey = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("old"));
        Assert.Equal(2, oldKey.ExitCode);
        Assert.Equal(dek, ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("new")).Stdout);
    }

    [Fact]
    public void PlatformKekRotationDestroysTheOldKey()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        var keystore = temp.Combine("keystore");
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--keystore", keystore).ExitCode);
        var oldKey = Assert.Single(Directory.GetFiles(keystore));
        var dek = ProcessRunner.Efs("recover", backing, "--keystore", keystore).Stdout;

        var rotate = ProcessRunner.Efs("key", "rotate", backing, "--keystore", keystore);
        Assert.True(rotate.ExitCode == 0, rotate.ToString());

        var newKey = Assert.Single(Directory.GetFiles(keystore));
        Assert.NotEqual(oldKey, newKey);
        Assert.Equal(dek, ProcessRunner.Efs("recover", backing, "--keystore", keystore).Stdout);
    }

    [Fact]
    public void DekRotationStartsANewGenerationAndKeepsTheOldReadable()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        File.WriteAllText(temp.Combine("k"), new string('c', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-file", temp.Combine("k")).ExitCode);
        var first = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k")).Stdout;

        var rotate = ProcessRunner.Efs("key", "rotate", backing, "--new-dek", "--key-file", temp.Combine("k"), "--json");
        Assert.True(rotate.ExitCode == 0, rotate.ToString());
        Assert.Equal(2, JsonNode.Parse(rotate.Stdout)!["dekGeneration"]!.GetValue<int>());

        var second = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k")).Stdout;
        Assert.NotEqual(first, second);
        Assert.Equal(first, ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k"), "--generation", "1").Stdout);
        var status = JsonNode.Parse(ProcessRunner.Efs("scope", "show", backing, "default", "--json").Stdout)!;
        Assert.Equal(2, status["dekGeneration"]!.GetValue<int>());
    }

    private static string Snapshot(string dir) =>
        string.Join('\n', Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => File.Exists(f) ? $"{f}:{Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}" : f));
}

using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys;

namespace EncFs.Cli.Tests.Commands;

/// <summary>efs import: the tree arrives encrypted and intact; a second run resumes (skips finished files).</summary>
public sealed class ImportCommandTests
{
    [Fact]
    public void ImportsATreeAndResumes()
    {
        using var temp = new TempDirectory();
        var source = temp.Combine("plain");
        Directory.CreateDirectory(Path.Combine(source, "sub", "deeper"));
        var random = new Random(7);
        var expected = new Dictionary<string, byte[]>();
        foreach (var (path, size) in new[] { ("a.txt", 10), ("sub/b.bin", 70_000), ("sub/deeper/c.bin", 5_000_123), ("empty", 0) })
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(source, path), bytes);
            expected["/" + path] = bytes;
        }

        File.CreateSymbolicLink(Path.Combine(source, "link"), "sub/b.bin");
        var backing = temp.Combine("vol");
        var key = temp.Combine("k");
        File.WriteAllText(key, new string('d', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-file", key).ExitCode);

        var first = ProcessRunner.Efs("import", source, backing, "--key-file", key, "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(0, JsonNode.Parse(first.Stdout)!["skipped"]!.GetValue<int>());
        Assert.Contains("Imported 4 files", first.Stderr, StringComparison.Ordinal);

        // Change one file: a second run copies it again and skips the rest.
        expected["/a.txt"] = "changed since the first import"u8.ToArray();
        File.WriteAllBytes(Path.Combine(source, "a.txt"), expected["/a.txt"]);
        var second = ProcessRunner.Efs("import", source, backing, "--key-file", key, "--json");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(3, JsonNode.Parse(second.Stdout)!["skipped"]!.GetValue<int>());

        using var keys = new CredentialKeySource(providedKey: SecretKey.Copy(Convert.FromHexString(new string('d', 64))));
        using var volume = EncryptedVolume.Open(backing, keys, new VolumeOpenOptions { ReadOnly = true });
        foreach (var (path, bytes) in expected)
        {
            using var handle = volume.OpenFile(path, FileAccess.Read);
            var actual = new byte[handle.Length];
            Assert.Equal(actual.Length, handle.Read(0, actual));
            Assert.Equal(bytes, actual);
        }

        Assert.Equal("sub/b.bin", volume.ReadSymlink("/link"));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(backing, "root"), "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).LinkTarget is null))
        {
            var stored = File.ReadAllBytes(file);
            Assert.False(stored.AsSpan().IndexOf(expected["/sub/b.bin"].AsSpan(0, 32)) >= 0, $"plaintext found in {file}");
        }
    }

    [Fact]
    public void MissingSourceIsBadInput()
    {
        using var temp = new TempDirectory();
        var key = temp.Combine("k");
        File.WriteAllText(key, new string('e', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", temp.Combine("vol"), "--key-file", key).ExitCode);
        var result = ProcessRunner.Efs("import", temp.Combine("nope"), temp.Combine("vol"), "--key-file", key);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("is not a directory", result.Stderr, StringComparison.Ordinal);
    }
}

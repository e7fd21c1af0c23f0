using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys;
using EncFs.Keys.Provided;

namespace EncFs.Cli.Tests.Interop;

/// <summary>
/// docs/FORMAT.md is complete: tests/interop/efs_decrypt.py, written from it with only
/// python3-cryptography and the OpenSSL CLI, decrypts what the volume wrote, given the DEK
/// that `efs recover` prints.
/// </summary>
public sealed class IndependentDecryptorTests
{
    [Theory]
    [InlineData(false, 4096)]
    [InlineData(true, 4096)]
    [InlineData(false, 512)]
    public void DecryptorReproducesTreeByteForByte(bool infrastructure, int sectorSize)
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("backing");
        var keyFile = temp.Combine("key.hex");
        var key = RandomNumberGenerator.GetBytes(32);
        File.WriteAllText(keyFile, Convert.ToHexString(key));
        var expected = WriteTree(backing, key, infrastructure, sectorSize);

        var recovered = ProcessRunner.Efs("recover", backing, "--key-file", keyFile, "--json");
        Assert.True(recovered.ExitCode == 0, recovered.ToString());
        var json = JsonNode.Parse(recovered.Stdout)!;
        var arguments = new List<string>
        {
            ProcessRunner.RepositoryFile("tests", "interop", "efs_decrypt.py"),
            backing,
            temp.Combine("out"),
            "--dek",
            json["dek"]!.GetValue<string>(),
        };
        if (infrastructure)
        {
            arguments.AddRange(["--infra-key", json["infrastructureKey"]!.GetValue<string>()]);
        }

        var decrypted = ProcessRunner.Run(ProcessRunner.DebianPython, arguments);
        Assert.True(decrypted.ExitCode == 0, decrypted.ToString());

        foreach (var (path, content) in expected.Files)
        {
            var actual = File.ReadAllBytes(temp.Combine("out") + path);
            Assert.True(content.AsSpan().SequenceEqual(actual), $"{path}: {actual.Length} bytes differ from the {content.Length} written");
        }

        foreach (var (path, target) in expected.Symlinks)
        {
            Assert.Equal(target, new FileInfo(temp.Combine("out") + path).LinkTarget);
        }

        var listedFiles = Directory.EnumerateFiles(temp.Combine("out"), "*", SearchOption.AllDirectories).Count();
        Assert.Equal(expected.Files.Count + expected.Symlinks.Count, listedFiles);
        var xattrs = File.ReadAllLines(temp.Combine("out.xattrs"));
        Assert.Equal(expected.Xattrs.OrderBy(x => x, StringComparer.Ordinal), xattrs.OrderBy(x => x, StringComparer.Ordinal));
    }

    private sealed record Tree(Dictionary<string, byte[]> Files, Dictionary<string, string> Symlinks, List<string> Xattrs);

    private static Tree WriteTree(string backing, byte[] key, bool infrastructure, int sectorSize)
    {
        var (descriptor, kek) = ProvidedKeySource.Create(key);
        using (kek)
        {
            EncryptedVolume.Create(backing, new VolumeCreateOptions { InfrastructureEncryption = infrastructure, SectorSize = sectorSize }, descriptor, kek);
        }

        var tree = new Tree([], [], []);
        using var keys = new CredentialKeySource(providedKey: SecretKey.Copy(key));
        using var volume = EncryptedVolume.Open(backing, keys);
        var random = new Random(42);
        var mode = new CreateOptions(0x1A4);
        volume.CreateDirectory("/docs", new CreateOptions(0x1ED));
        volume.CreateDirectory("/docs/nested ünïcødé", new CreateOptions(0x1ED));
        foreach (var size in new[] { 0, 1, 15, 16, 17, 511, 512, 513, 4095, 4096, 4097, 65536 * 2 + 3, (1 << 20) + 7 })
        {
            var content = new byte[size];
            random.NextBytes(content);
            var path = $"/docs/file-{size}.bin";
            using var handle = volume.CreateFile(path, mode);
            handle.Write(0, content);
            tree.Files[path] = content;
        }

        var sparse = new byte[200_000];
        sparse.AsSpan(150_000, 10).Fill(7);
        using (var handle = volume.CreateFile("/docs/nested ünïcødé/sparse", mode))
        {
            handle.Write(150_000, sparse.AsSpan(150_000, 10));
            handle.SetLength(200_000);
        }

        tree.Files["/docs/nested ünïcødé/sparse"] = sparse;

        var truncated = new byte[10_000];
        random.NextBytes(truncated);
        using (var handle = volume.CreateFile("/truncated", mode))
        {
            handle.Write(0, truncated);
            handle.SetLength(5_000);
        }

        tree.Files["/truncated"] = truncated[..5_000];

        var longName = "/" + new string('L', 240) + ".txt";
        using (var handle = volume.CreateFile(longName, mode))
        {
            handle.Write(0, "long name"u8);
        }

        tree.Files[longName] = "long name"u8.ToArray();
        volume.CreateSymlink("/docs/link", "nested ünïcødé/sparse", mode);
        tree.Symlinks["/docs/link"] = "nested ünïcødé/sparse";
        volume.SetXattr("/truncated", "user.comment", "hello xattr"u8);
        tree.Xattrs.Add($"/truncated\tuser.comment\t{Convert.ToHexStringLower("hello xattr"u8)}");
        volume.SetXattr("/docs", "user.dir-note", "on a directory"u8);
        tree.Xattrs.Add($"/docs\tuser.dir-note\t{Convert.ToHexStringLower("on a directory"u8)}");
        return tree;
    }
}

using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Commands;

/// <summary>The efs command as a script sees it: output, --json, exit codes, nothing changed on bad input.</summary>
public sealed class CliContractTests
{
    [Fact]
    public void InitRecoverStatusWithPassphrase()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        var passphrase = temp.Combine("pass");
        File.WriteAllText(passphrase, "correct horse battery staple\n");

        var init = ProcessRunner.Efs("init", backing, "--passphrase-file", passphrase, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        var created = JsonNode.Parse(init.Stdout)!;
        Assert.Equal(4096, created["sectorSize"]!.GetValue<int>());
        Assert.False(created["infrastructureEncryption"]!.GetValue<bool>());

        var recover = ProcessRunner.Efs("recover", backing, "--passphrase-file", passphrase);
        Assert.True(recover.ExitCode == 0, recover.ToString());
        Assert.Matches("^[0-9a-f]{64}$", recover.Stdout.Trim());
        Assert.DoesNotContain(recover.Stdout.Trim(), File.ReadAllText(Path.Combine(backing, "efs.volume")), StringComparison.Ordinal);

        // The passphrase also comes on standard input.
        var fromStdin = ProcessRunner.EfsWithInput("correct horse battery staple", "recover", backing, "--passphrase-file", "-");
        Assert.Equal(recover.Stdout, fromStdin.Stdout);

        var status = ProcessRunner.Efs("status", backing, "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        var volume = JsonNode.Parse(status.Stdout)!;
        Assert.Equal("volume", volume["kind"]!.GetValue<string>());
        var scope = volume["scopes"]![0]!;
        Assert.Equal("default", scope["name"]!.GetValue<string>());
        Assert.Equal("passphrase", scope["keySource"]!.GetValue<string>());
        Assert.Equal(1, scope["dekGeneration"]!.GetValue<int>());

        var rootStatus = ProcessRunner.Efs("status", Path.Combine(backing, "root"), "--json");
        Assert.True(rootStatus.ExitCode == 0, rootStatus.ToString());
        Assert.Equal("directory", JsonNode.Parse(rootStatus.Stdout)!["kind"]!.GetValue<string>());
    }

    [Fact]
    public void WrongPassphraseExitsTwoAndChangesNothing()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        File.WriteAllText(temp.Combine("right"), "right");
        File.WriteAllText(temp.Combine("wrong"), "wrong");
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--passphrase-file", temp.Combine("right")).ExitCode);
        var before = Snapshot(backing);

        var result = ProcessRunner.Efs("recover", backing, "--passphrase-file", temp.Combine("wrong"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("wrong passphrase or key", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(backing));
    }

    [Fact]
    public void DefaultPlatformKeySourceKeepsTheKeyOffTheDiskAndDeletingItRevokes()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        var keystore = temp.Combine("keystore");

        var init = ProcessRunner.Efs("init", backing, "--keystore", keystore, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        Assert.Equal("platform", JsonNode.Parse(init.Stdout)!["keySource"]!.GetValue<string>());
        var keyFile = Assert.Single(Directory.GetFiles(keystore));
        var kek = Convert.ToHexStringLower(File.ReadAllBytes(keyFile));
        foreach (var file in Directory.EnumerateFiles(backing, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(kek, Convert.ToHexStringLower(File.ReadAllBytes(file)), StringComparison.Ordinal);
        }

        var recover = ProcessRunner.Efs("recover", backing, "--keystore", keystore);
        Assert.True(recover.ExitCode == 0, recover.ToString());

        File.Delete(keyFile);
        var revoked = ProcessRunner.Efs("recover", backing, "--keystore", keystore);
        Assert.Equal(2, revoked.ExitCode);
        Assert.Contains("not in the keystore", revoked.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void FailedInitLeavesNoOrphanPlatformKey()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp.Combine("full"));
        File.WriteAllText(temp.Combine("full", "data"), "x");
        var init = ProcessRunner.Efs("init", temp.Combine("full"), "--keystore", temp.Combine("keystore"));
        Assert.Equal(2, init.ExitCode);
        Assert.Empty(Directory.GetFiles(temp.Combine("keystore")));
    }

    [Fact]
    public void ProvidedKeySourceRefusesAnotherKey()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        File.WriteAllText(temp.Combine("k1"), new string('a', 64));
        File.WriteAllText(temp.Combine("k2"), new string('b', 64));
        var init = ProcessRunner.Efs("init", backing, "--key-source", "provided", "--key-file", temp.Combine("k1"), "--infrastructure-encryption");
        Assert.True(init.ExitCode == 0, init.ToString());
        Assert.DoesNotContain(new string('a', 64), File.ReadAllText(Path.Combine(backing, "efs.volume")), StringComparison.OrdinalIgnoreCase);

        Assert.Equal(0, ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k1")).ExitCode);
        var wrong = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k2"));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("wrong passphrase or key", wrong.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("init")]
    [InlineData("recover")]
    [InlineData("status")]
    public void HelpDescribesEachVerb(string verb)
    {
        var help = ProcessRunner.Efs(verb, "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Usage:", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--json", help.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInputExitsTwoWithAClearMessage()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("pass"), "pw");

        var unknownOption = ProcessRunner.Efs("init", temp.Combine("a"), "--no-such-option");
        Assert.Equal(2, unknownOption.ExitCode);

        var badSector = ProcessRunner.Efs("init", temp.Combine("b"), "--passphrase-file", temp.Combine("pass"), "--sector-size", "1000");
        Assert.Equal(2, badSector.ExitCode);
        Assert.Contains("power of two", badSector.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("b")));

        Directory.CreateDirectory(temp.Combine("full"));
        File.WriteAllText(temp.Combine("full", "precious.txt"), "keep me");
        var notEmpty = ProcessRunner.Efs("init", temp.Combine("full"), "--passphrase-file", temp.Combine("pass"));
        Assert.Equal(2, notEmpty.ExitCode);
        Assert.Contains("not empty", notEmpty.Stderr, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(temp.Combine("full", "precious.txt")));
        Assert.Single(Directory.EnumerateFileSystemEntries(temp.Combine("full")));

        var notVolume = ProcessRunner.Efs("recover", temp.Combine("full"), "--passphrase-file", temp.Combine("pass"));
        Assert.Equal(2, notVolume.ExitCode);
        Assert.Contains("not an EncFs volume", notVolume.Stderr, StringComparison.Ordinal);

        var noPassphrase = ProcessRunner.EfsWithInput(string.Empty, "init", temp.Combine("c"), "--key-source", "passphrase");
        Assert.Equal(2, noPassphrase.ExitCode);
        Assert.Contains("--passphrase-file", noPassphrase.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void DamagedHeaderFallsBackToBackupAndNewerVersionIsRefused()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        File.WriteAllText(temp.Combine("k"), new string('c', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-source", "provided", "--key-file", temp.Combine("k")).ExitCode);
        var dek = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k")).Stdout;

        var primary = Path.Combine(backing, "efs.volume");
        var bytes = File.ReadAllBytes(primary);
        bytes[40] ^= 0x20;
        File.WriteAllBytes(primary, bytes);
        var fromBackup = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k"));
        Assert.True(fromBackup.ExitCode == 0, fromBackup.ToString());
        Assert.Equal(dek, fromBackup.Stdout);

        File.Delete(primary);
        File.Delete(Path.Combine(backing, "efs.volume.bak"));
        var none = ProcessRunner.Efs("recover", backing, "--key-file", temp.Combine("k"));
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("not an EncFs volume", none.Stderr, StringComparison.Ordinal);
    }

    private static string Snapshot(string dir) =>
        string.Join('\n', Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{f}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}:{File.GetLastWriteTimeUtc(f).Ticks}"));
}

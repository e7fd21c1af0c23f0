namespace EncFs.Attack.Tests;

/// <summary>
/// The removed disk: its copy mounts only with the key, and once the KEK is destroyed
/// (crypto-erase) neither the copy nor the original can ever be read again.
/// </summary>
public sealed class CryptoEraseTests
{
    [Fact]
    public void CopyNeedsTheKeyAndCryptoEraseIsFinal()
    {
        using var scratch = new ScratchDirectory();
        string P(string name) => Path.Combine(scratch.Path, name);
        var keystore = P("keystore");
        Directory.CreateDirectory(P("mnt"));
        Directory.CreateDirectory(P("empty-keystore"));
        ProcessRunner.Efs("init", P("backing"), "--keystore", keystore).EnsureSuccess();
        ProcessRunner.Efs("mount", P("backing"), P("mnt"), "--keystore", keystore).EnsureSuccess();
        File.WriteAllText(Path.Combine(P("mnt"), "report.txt"), "quarterly numbers, confidential");
        ProcessRunner.Efs("unmount", P("mnt")).EnsureSuccess();

        ProcessRunner.Run("cp", ["-a", P("backing"), P("stolen")]).EnsureSuccess();

        var withoutKey = ProcessRunner.Efs("mount", P("stolen"), P("mnt"), "--keystore", P("empty-keystore"));
        Assert.Equal(2, withoutKey.ExitCode);
        Assert.Contains("not in the keystore", withoutKey.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(P("mnt")));

        ProcessRunner.Efs("mount", P("stolen"), P("mnt"), "--keystore", keystore).EnsureSuccess();
        try
        {
            Assert.Equal("quarterly numbers, confidential", File.ReadAllText(Path.Combine(P("mnt"), "report.txt")));
        }
        finally
        {
            ProcessRunner.Efs("unmount", P("mnt")).EnsureSuccess();
        }

        // Crypto-erase: the only copy of the KEK is destroyed.
        foreach (var kek in Directory.GetFiles(keystore))
        {
            File.WriteAllBytes(kek, new byte[32]);
            File.Delete(kek);
        }

        foreach (var medium in new[] { "backing", "stolen" })
        {
            var erased = ProcessRunner.Efs("mount", P(medium), P("mnt"), "--keystore", keystore);
            Assert.Equal(2, erased.ExitCode);
            Assert.False(Mounts.IsMounted(P("mnt")));
            Assert.Equal(2, ProcessRunner.Efs("recover", P(medium), "--keystore", keystore).ExitCode);
        }
    }
}

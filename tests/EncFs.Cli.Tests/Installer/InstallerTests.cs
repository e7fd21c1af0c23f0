using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Installer;

/// <summary>installer/linux/install.sh into a staging root: what it installs, with which permissions, and that the binary runs.</summary>
[Collection(PackagingCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InstallerTests
{
    [Fact]
    public void InstallsASelfContainedEfsAndUninstallKeepsKeysUnlessPurged()
    {
        using var temp = new TempDirectory();
        var root = temp.Combine("root");
        var script = ProcessRunner.RepositoryFile("installer", "linux", "install.sh");
        var buildOption = SelfContainedPublish.BuildOption;
        var install = ProcessRunner.Run("bash", [script, "--destdir", root, .. buildOption], timeout: TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, install.ToString());
        if (buildOption.Length == 0)
        {
            SelfContainedPublish.Published();
        }

        var efs = Path.Combine(root, "usr", "lib", "efs", "efs");
        Assert.True(File.Exists(efs));
        Assert.Equal("/usr/lib/efs/efs", new FileInfo(Path.Combine(root, "usr", "bin", "efs")).LinkTarget);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(root, "etc", "efs")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(root, "var", "lib", "efs", "keystore")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "etc", "efs", "service.json")));
        var unit = File.ReadAllText(Path.Combine(root, "lib", "systemd", "system", "efs.service"));
        Assert.Contains("Type=notify", unit, StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/bin/efs service --config /etc/efs/service.json", unit, StringComparison.Ordinal);

        var version = ProcessRunner.Run(efs, ["--version"]);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith("0.1.0", version.Stdout.Trim(), StringComparison.Ordinal);

        // The installed binary mounts (its daemon is itself, not `dotnet efs.dll`).
        File.WriteAllText(temp.Combine("k"), new string('9', 64));
        Directory.CreateDirectory(temp.Combine("m"));
        Assert.Equal(0, ProcessRunner.Run(efs, ["init", temp.Combine("v"), "--key-file", temp.Combine("k")]).ExitCode);
        var mount = ProcessRunner.Run(efs, ["mount", temp.Combine("v"), temp.Combine("m"), "--key-file", temp.Combine("k")]);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        File.WriteAllText(temp.Combine("m", "x"), "through the installed binary");
        Assert.Equal(0, ProcessRunner.Run(efs, ["unmount", temp.Combine("m")]).ExitCode);

        File.WriteAllText(Path.Combine(root, "var", "lib", "efs", "keystore", "kept.kek"), "key");
        Assert.Equal(0, ProcessRunner.Run("bash", [script, "--uninstall", "--destdir", root]).ExitCode);
        Assert.False(File.Exists(efs));
        Assert.True(File.Exists(Path.Combine(root, "var", "lib", "efs", "keystore", "kept.kek")));
        Assert.True(File.Exists(Path.Combine(root, "etc", "efs", "service.json")));

        Assert.Equal(0, ProcessRunner.Run("bash", [script, "--uninstall", "--purge", "--destdir", root]).ExitCode);
        Assert.False(Directory.Exists(Path.Combine(root, "var", "lib", "efs")));
        Assert.False(Directory.Exists(Path.Combine(root, "etc", "efs")));
    }
}

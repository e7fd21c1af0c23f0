using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Installer;

/// <summary>
/// packaging/dotnet-tool/build.sh: the EncFs.Tool package installs with `dotnet tool install`,
/// and its `efs` shim mounts (the mount daemon is started again through the shim).
/// </summary>
[Collection(PackagingCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ToolPackageTests
{
    [Fact]
    public void ToolPackageInstallsAndItsShimMountsAVolume()
    {
        using var temp = new TempDirectory();
        var script = ProcessRunner.RepositoryFile("packaging", "dotnet-tool", "build.sh");
        var build = ProcessRunner.Run("bash", [script, "--output", temp.Combine("nupkg")], timeout: TimeSpan.FromMinutes(8));
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Equal(temp.Combine("nupkg", $"EncFs.Tool.{SelfContainedPublish.Version}.nupkg"), build.Stdout.Trim());

        // A private packages folder: the package installed is the one just built, never a cached one.
        var install = ProcessRunner.Run(
            "dotnet",
            ["tool", "install", "--tool-path", temp.Combine("tools"), "--add-source", temp.Combine("nupkg"), "EncFs.Tool", "--version", SelfContainedPublish.Version],
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = temp.Combine("packages") },
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, install.ToString());

        var efs = temp.Combine("tools", "efs");
        var version = ProcessRunner.Run(efs, ["--version"]);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith(SelfContainedPublish.Version, version.Stdout.Trim(), StringComparison.Ordinal);

        File.WriteAllText(temp.Combine("key"), new string('5', 64));
        Directory.CreateDirectory(temp.Combine("plain"));
        var init = ProcessRunner.Run(efs, ["init", temp.Combine("vault"), "--key-file", temp.Combine("key")]);
        Assert.True(init.ExitCode == 0, init.ToString());
        var mount = ProcessRunner.Run(efs, ["mount", temp.Combine("vault"), temp.Combine("plain"), "--key-file", temp.Combine("key")]);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        try
        {
            File.WriteAllText(temp.Combine("plain", "note.txt"), "written through the tool's mount");
        }
        finally
        {
            var unmount = ProcessRunner.Run(efs, ["unmount", temp.Combine("plain")]);
            Assert.True(unmount.ExitCode == 0, unmount.ToString());
        }

        // Stored encrypted, and readable again through a second mount.
        Assert.False(File.Exists(temp.Combine("plain", "note.txt")));
        Assert.DoesNotContain(
            Directory.EnumerateFiles(temp.Combine("vault"), "*", SearchOption.AllDirectories),
            f => File.ReadAllText(f).Contains("written through", StringComparison.Ordinal));
        Assert.Equal(0, ProcessRunner.Run(efs, ["mount", temp.Combine("vault"), temp.Combine("plain"), "--key-file", temp.Combine("key")]).ExitCode);
        try
        {
            Assert.Equal("written through the tool's mount", File.ReadAllText(temp.Combine("plain", "note.txt")));
        }
        finally
        {
            Assert.Equal(0, ProcessRunner.Run(efs, ["unmount", temp.Combine("plain")]).ExitCode);
        }
    }
}

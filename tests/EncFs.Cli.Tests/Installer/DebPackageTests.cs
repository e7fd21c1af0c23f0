using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Installer;

/// <summary>
/// packaging/deb/build-deb.sh: the package's control fields, files and modes, then a real dpkg
/// install, remove and purge into a scratch root (dpkg --root) that must leave the keystore alone.
/// </summary>
[Collection(PackagingCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DebPackageTests
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public void PackageInstallsIntoARootAndPurgeKeepsTheKeystore()
    {
        using var temp = new TempDirectory();
        var script = ProcessRunner.RepositoryFile("packaging", "deb", "build-deb.sh");
        var buildOption = SelfContainedPublish.BuildOption;
        // gzip: xz takes half a minute more for the same files.
        var build = ProcessRunner.Run("bash", [script, "--output", temp.Combine("out"), "--compress", "gzip", .. buildOption], timeout: TimeSpan.FromMinutes(8));
        Assert.True(build.ExitCode == 0, build.ToString());
        if (buildOption.Length == 0)
        {
            SelfContainedPublish.Published();
        }

        var deb = build.Stdout.Trim();
        Assert.Equal(temp.Combine("out", $"efs_{SelfContainedPublish.Version}_amd64.deb"), deb);

        // Control fields; every dependency is a real Debian package (installed here by scripts/install-deps.sh or the base system).
        Assert.Equal("efs", Field(deb, "Package"));
        Assert.Equal(SelfContainedPublish.Version, Field(deb, "Version"));
        Assert.Equal("amd64", Field(deb, "Architecture"));
        var depends = Field(deb, "Depends").Split(',', StringSplitOptions.TrimEntries).Select(d => d.Split(' ')[0]).ToArray();
        Assert.Contains("fuse3", depends);
        Assert.Contains("libssl3", depends);
        foreach (var package in depends)
        {
            var query = ProcessRunner.Run("dpkg-query", ["-W", "-f=${Status}", package]);
            Assert.True(query.Stdout == "install ok installed", $"dependency {package} is not an installed Debian package here: {query}");
        }

        var control = temp.Combine("control");
        Assert.Equal(0, ProcessRunner.Run("dpkg-deb", ["--control", deb, control]).ExitCode);
        Assert.Equal("/etc/efs/service.json", File.ReadAllText(Path.Combine(control, "conffiles")).Trim());
        foreach (var maintainerScript in new[] { "postinst", "prerm", "postrm" })
        {
            Assert.Equal(UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(control, maintainerScript)) & UnixFileMode.UserExecute);
        }

        // Files: `mode owner/group size date time path [-> target]`, all root's.
        var listing = ProcessRunner.Run("dpkg-deb", ["--contents", deb]);
        Assert.True(listing.ExitCode == 0, listing.ToString());
        var entries = listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[5].TrimEnd('/'), f => (Mode: f[0], Owner: f[1], Target: f.Length > 7 ? f[7] : null));
        Assert.All(entries.Values, e => Assert.Equal("root/root", e.Owner));
        Assert.Equal("-rwxr-xr-x", entries["./usr/lib/efs/efs"].Mode);
        Assert.Equal(("lrwxrwxrwx", "/usr/lib/efs/efs"), (entries["./usr/bin/efs"].Mode, entries["./usr/bin/efs"].Target));
        Assert.Equal("-rw-r--r--", entries["./lib/systemd/system/efs.service"].Mode);
        Assert.Equal("drwx------", entries["./etc/efs"].Mode);
        Assert.Equal("-rw-------", entries["./etc/efs/service.json"].Mode);
        Assert.Equal("drwx------", entries["./var/lib/efs/keystore"].Mode);
        Assert.Contains("./usr/share/doc/efs/copyright", entries.Keys);

        // A real install into a scratch root with its own dpkg database. The maintainer scripts
        // run outside a chroot (the root has no shell) and must leave the host alone (DPKG_ROOT).
        var root = temp.Combine("root");
        foreach (var dir in new[] { "info", "updates", "triggers" })
        {
            Directory.CreateDirectory(Path.Combine(root, "var", "lib", "dpkg", dir));
        }

        File.WriteAllText(Path.Combine(root, "var", "lib", "dpkg", "status"), string.Empty);
        var install = Dpkg(root, "--force-depends", "--install", deb);
        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Contains("Status: install ok installed", Dpkg(root, "--status", "efs").Stdout, StringComparison.Ordinal);
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(Path.Combine(root, "etc", "efs")));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(Path.Combine(root, "var", "lib", "efs", "keystore")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "etc", "efs", "service.json")));
        Assert.Equal("/usr/lib/efs/efs", new FileInfo(Path.Combine(root, "usr", "bin", "efs")).LinkTarget);

        var version = ProcessRunner.Run(Path.Combine(root, "usr", "lib", "efs", "efs"), ["--version"]);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.StartsWith(SelfContainedPublish.Version, version.Stdout.Trim(), StringComparison.Ordinal);

        // Remove keeps configuration and keys; purge drops the configuration but never the keys.
        var key = Path.Combine(root, "var", "lib", "efs", "keystore", "volume.kek");
        File.WriteAllText(key, "a platform key");
        var remove = Dpkg(root, "--remove", "efs");
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.False(File.Exists(Path.Combine(root, "usr", "lib", "efs", "efs")));
        Assert.True(File.Exists(Path.Combine(root, "etc", "efs", "service.json")));
        Assert.True(File.Exists(key));

        var purge = Dpkg(root, "--purge", "efs");
        Assert.True(purge.ExitCode == 0, purge.ToString());
        Assert.False(File.Exists(Path.Combine(root, "etc", "efs", "service.json")));
        Assert.True(File.Exists(key), "purge deleted a platform key");
        Assert.Contains("kept " + Path.Combine(root, "var", "lib", "efs", "keystore"), purge.Stderr, StringComparison.Ordinal);
    }

    private static string Field(string deb, string name)
    {
        var result = ProcessRunner.Run("dpkg-deb", ["--field", deb, name]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    private static ProcessResult Dpkg(string root, params string[] arguments) =>
        ProcessRunner.Run("dpkg", [$"--root={root}", "--log=/dev/null", "--force-script-chrootless", .. arguments], timeout: TimeSpan.FromMinutes(2));
}

using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Posix;

/// <summary>
/// Permissions as on a local filesystem (default_permissions), checked as an unprivileged user
/// (nobody, via setpriv). Other users get in only with -o allow_other.
/// </summary>
public sealed class PermissionTests
{
    private const string Nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";

    [Fact]
    public void WithoutAllowOtherOtherUsersCannotEnter()
    {
        Tools.Require("setpriv", "util-linux");
        using var volume = MountedVolume.Create();
        File.WriteAllText(volume.PathOf("open"), "readable by all");
        File.SetUnixFileMode(volume.PathOf("open"), (UnixFileMode)0b110_100_100);

        var list = Shell($"{Nobody} ls '{volume.MountPoint}'");
        Assert.NotEqual(0, list.ExitCode);
        Assert.Contains("Permission denied", list.Stderr, StringComparison.Ordinal);
        var read = Shell($"{Nobody} cat '{volume.PathOf("open")}'");
        Assert.NotEqual(0, read.ExitCode);
        Assert.Contains("Permission denied", read.Stderr, StringComparison.Ordinal);

        // Root, the mounting user, is served.
        Assert.Equal("readable by all", File.ReadAllText(volume.PathOf("open")));
    }

    [Fact]
    public void DefaultPermissionsAreEnforcedForOtherUsers()
    {
        Tools.Require("setpriv", "util-linux");
        using var volume = MountedVolume.Create(mountOptions: ["allow_other"]);
        Assert.Contains("allow_other", Shell($"findmnt -n -o OPTIONS '{volume.MountPoint}'").EnsureSuccess().Stdout, StringComparison.Ordinal);
        var open = volume.PathOf("open");
        var closed = volume.PathOf("closed");
        var privateFile = volume.PathOf("private");
        var ownDir = volume.PathOf("nobody-dir");
        foreach (var path in new[] { open, closed, privateFile })
        {
            File.WriteAllText(path, "secret " + Path.GetFileName(path));
        }

        Shell($"chmod 644 '{open}' && chmod 000 '{closed}' && chmod 600 '{privateFile}' && chmod 755 '{volume.MountPoint}'").EnsureSuccess();
        Directory.CreateDirectory(ownDir);
        Shell($"chown 65534:65534 '{ownDir}' && chmod 700 '{ownDir}'").EnsureSuccess();

        // Readable by others: yes. Mode 000 and 600 (owned by root): permission denied.
        Assert.Equal("secret open", Shell($"{Nobody} cat '{open}'").EnsureSuccess().Stdout);
        AssertDenied(Shell($"{Nobody} cat '{closed}'"));
        AssertDenied(Shell($"{Nobody} cat '{privateFile}'"));

        // Writing someone else's 644 file, creating in root's 755 directory, chmod of a file
        // one does not own: denied, and nothing changed.
        AssertDenied(Shell($"{Nobody} sh -c \"echo x >> '{open}'\""));
        AssertDenied(Shell($"{Nobody} touch '{volume.PathOf("new-file")}'"));
        Assert.NotEqual(0, Shell($"{Nobody} chmod 777 '{open}'").ExitCode);
        Assert.NotEqual(0, Shell($"{Nobody} rm -f '{open}'").ExitCode);
        Assert.Equal("secret open", File.ReadAllText(open));
        Assert.False(File.Exists(volume.PathOf("new-file")));
        Assert.Equal("644", Shell($"stat -c %a '{open}'").Stdout.Trim());

        // In its own directory nobody creates, and the files are nobody's.
        Shell($"{Nobody} sh -c \"echo mine > '{ownDir}/f' && chmod 600 '{ownDir}/f'\"").EnsureSuccess();
        Assert.Equal("65534 65534 600", Shell($"stat -c '%u %g %a' '{ownDir}/f'").Stdout.Trim());
        Assert.Equal("mine\n", Shell($"{Nobody} cat '{ownDir}/f'").EnsureSuccess().Stdout);

        // Root reads even mode 000, as on a local filesystem.
        Assert.Equal("secret closed", File.ReadAllText(closed));

        // Once the file is given to nobody, nobody may read it (after chmod u+r).
        Shell($"chown 65534 '{closed}' && chmod 400 '{closed}'").EnsureSuccess();
        Assert.Equal("secret closed", Shell($"{Nobody} cat '{closed}'").EnsureSuccess().Stdout);
        AssertDenied(Shell($"{Nobody} sh -c \"echo x >> '{closed}'\""));
    }

    private static void AssertDenied(ProcessResult result)
    {
        Assert.True(result.ExitCode != 0, "expected permission denied\n" + result);
        Assert.Contains("Permission denied", result.Stderr, StringComparison.Ordinal);
    }
}

using System.Security.Cryptography;
using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.BadInput;

/// <summary>
/// `efs mount` refusing bad input: exit 2, a message that says what is wrong, and nothing
/// changed — no mount added or removed, the backing directory untouched.
/// </summary>
public sealed class MountBadInputTests : IClassFixture<SharedMountFixture>
{
    private readonly MountedVolume _volume;

    public MountBadInputTests(SharedMountFixture fixture)
    {
        _volume = fixture.Volume;
        File.WriteAllText(_volume.PathOf("canary"), "still here");
    }

    [Fact]
    public void MountPointMissing()
    {
        using var other = MountedVolume.Create(mount: false);
        var missing = Path.Combine(other.Root, "no-such-dir");
        AssertRefused(other, () => Efs("mount", other.Backing, missing, "--key-file", other.KeyFile), "does not exist");
        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public void MountPointIsAFile()
    {
        using var other = MountedVolume.Create(mount: false);
        var file = Path.Combine(other.Root, "a-file");
        File.WriteAllText(file, "not a directory");
        AssertRefused(other, () => Efs("mount", other.Backing, file, "--key-file", other.KeyFile), "not a directory");
        Assert.Equal("not a directory", File.ReadAllText(file));
    }

    [Fact]
    public void MountPointNotEmpty()
    {
        using var other = MountedVolume.Create(mount: false);
        File.WriteAllText(Path.Combine(other.MountPoint, "occupant"), "already here");
        AssertRefused(other, () => other.TryMount(), "not empty");
        Assert.Equal("already here", File.ReadAllText(Path.Combine(other.MountPoint, "occupant")));
        Assert.Contains("nonempty", other.TryMount().Stderr, StringComparison.Ordinal); // says what to do
    }

    [Fact]
    public void MountPointAlreadyMountedByAnotherVolume()
    {
        using var other = MountedVolume.Create(mount: false);
        AssertRefused(other, () => Efs("mount", other.Backing, _volume.MountPoint, "--key-file", other.KeyFile), "already a mount point");
        Assert.Equal(1, Mounts.Count(_volume.MountPoint));
        Assert.Equal("still here", File.ReadAllText(_volume.PathOf("canary")));
    }

    [Fact]
    public void MountPointAlreadyMountedBySomethingElse()
    {
        using var other = MountedVolume.Create(mount: false);
        Run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", other.MountPoint]).EnsureSuccess();
        try
        {
            File.WriteAllText(Path.Combine(other.MountPoint, "on-tmpfs"), "tmpfs file");
            AssertRefused(other, () => other.TryMount(["-o", "nonempty"]), "already a mount point");
            Assert.Equal("tmpfs", Mounts.Read().Last(m => m.MountPoint == other.MountPoint).Type);
            Assert.Equal("tmpfs file", File.ReadAllText(Path.Combine(other.MountPoint, "on-tmpfs")));
        }
        finally
        {
            Run("umount", [other.MountPoint]);
        }
    }

    [Fact]
    public void BackingDirectoryIsNotAVolume()
    {
        using var scratch = new ScratchDirectory();
        var notVolume = Path.Combine(scratch.Path, "plain");
        var mountPoint = Path.Combine(scratch.Path, "mnt");
        Directory.CreateDirectory(notVolume);
        Directory.CreateDirectory(mountPoint);
        File.WriteAllText(Path.Combine(notVolume, "plain.txt"), "just a file");
        File.WriteAllText(Path.Combine(scratch.Path, "key"), new string('c', 64));
        var before = Snapshot(notVolume);

        var result = Efs("mount", notVolume, mountPoint, "--key-file", Path.Combine(scratch.Path, "key"));
        AssertExit2(result, "not an EncFs volume");
        Assert.Equal(before, Snapshot(notVolume));
        Assert.False(Mounts.IsMounted(mountPoint));

        var missing = Efs("mount", Path.Combine(scratch.Path, "nothing-here"), mountPoint, "--key-file", Path.Combine(scratch.Path, "key"));
        AssertExit2(missing, "nothing-here");
        Assert.False(Directory.Exists(Path.Combine(scratch.Path, "nothing-here")));
        Assert.False(Mounts.IsMounted(mountPoint));
    }

    [Fact]
    public void BackingAlreadyMountedElsewhere()
    {
        var second = Path.Combine(_volume.Root, "second-mount-point");
        Directory.CreateDirectory(second);
        var mountsBefore = Mounts.Describe(_volume.Root);
        var result = Efs("mount", _volume.Backing, second, "--key-file", _volume.KeyFile);
        AssertExit2(result, "already open");
        Assert.Contains("unmount", result.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(second));
        Assert.Equal(mountsBefore, Mounts.Describe(_volume.Root));
        Assert.Equal("still here", File.ReadAllText(_volume.PathOf("canary")));
        Directory.Delete(second);
    }

    [Fact]
    public void WrongKeyIsRefused()
    {
        using var other = MountedVolume.Create(mount: false);
        var wrongKey = Path.Combine(other.Root, "wrong-key");
        File.WriteAllText(wrongKey, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        // Opening the volume rewrites its lock file (the holder's pid) before the key is checked;
        // the volume itself is untouched.
        AssertRefused(other, () => Efs("mount", other.Backing, other.MountPoint, "--key-file", wrongKey), "wrong passphrase or key", lockFileMayChange: true);
    }

    [Fact]
    public void UnmountOfSomethingThatIsNotAMount()
    {
        using var scratch = new ScratchDirectory();
        AssertExit2(Efs("unmount", scratch.Path), "not an efs mount point");
        AssertExit2(Efs("unmount", Path.Combine(scratch.Path, "missing")), "not an efs mount point");
        Assert.Equal(1, Mounts.Count(_volume.MountPoint));
    }

    /// <summary>The command fails with exit 2 and the message; the volume's backing directory and the mounts are as before.</summary>
    private void AssertRefused(MountedVolume volume, Func<ProcessResult> command, string message, bool lockFileMayChange = false)
    {
        var backingBefore = Snapshot(volume.Backing, lockFileMayChange);
        string MountsNow() => Mounts.Describe(volume.Root) + "\n" + Mounts.Describe(_volume.Root);
        var mountsBefore = MountsNow();
        var result = command();
        AssertExit2(result, message);
        Assert.Equal(mountsBefore, MountsNow());
        Assert.Equal(backingBefore, Snapshot(volume.Backing, lockFileMayChange));
        Assert.Null(volume.DaemonPid());
    }

    private static void AssertExit2(ProcessResult result, string message)
    {
        Assert.True(result.ExitCode == 2, "expected exit 2\n" + result);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("efs: ", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
    }

    /// <summary>Every file's path, size and content hash (mtimes too: nothing may be rewritten).</summary>
    private static string Snapshot(string directory, bool lockFileMayChange = false) =>
        string.Join('\n', Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(path =>
        {
            var info = new FileInfo(path);
            if (lockFileMayChange && info.Name == "efs.lock")
            {
                return "efs.lock";
            }

            return info.Attributes.HasFlag(FileAttributes.Directory)
                ? $"{Path.GetRelativePath(directory, path)}/ {Directory.GetLastWriteTimeUtc(path).Ticks}"
                : $"{Path.GetRelativePath(directory, path)} {info.Length} {info.LastWriteTimeUtc.Ticks} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}";
        }));
}

using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Fuse.Tests.Support;

namespace EncFs.Fuse.Tests.Control;

/// <summary>
/// Commands given a mounted volume reach its daemon through the control socket and take effect
/// at once: scope disable/enable, key checks (revocation), key rotation; and the socket's own
/// bad input (path taken, permission denied).
/// </summary>
public sealed class LiveControlTests
{
    [Fact]
    public void DisablingAScopeRefusesItsOpenFilesAtOnceAndEnablingRestoresThem()
    {
        using var volume = MountedVolume.Create(mount: false);
        var audit = Path.Combine(volume.Root, "audit.jsonl");
        ProcessRunner.Efs("scope", "create", volume.Backing, "hr", "--key-file", volume.KeyFile, "--key-source", "provided", "--new-key-file", volume.KeyFile).EnsureSuccess();
        volume.TryMount("--audit-log", audit).EnsureSuccess();
        var hr = volume.NewDirectory("hr");
        ProcessRunner.Shell($"setfattr -n user.efs.scope -v hr {hr} && echo salary > {hr}/alice").EnsureSuccess();
        File.WriteAllText(volume.PathOf("public"), "default scope");

        // The daemon audits what it is asked through its socket.
        using (var open = new FileStream(Path.Combine(hr, "alice"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.None))
        {
            var disable = ProcessRunner.Efs("scope", "disable", volume.MountPoint, "hr");
            Assert.True(disable.ExitCode == 0, disable.ToString());
            Assert.Contains("at once", disable.Stderr, StringComparison.Ordinal);

            // The file opened before is refused too (no page cache between: the read reaches the daemon).
            var buffer = new byte[16];
            Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => RandomAccess.Read(open.SafeFileHandle, buffer, 0)));
            Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => File.ReadAllText(Path.Combine(hr, "alice"))));
            Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => RandomAccess.Write(open.SafeFileHandle, "x"u8.ToArray(), 0)));
            Assert.Equal("default scope", File.ReadAllText(volume.PathOf("public")));

            var enable = ProcessRunner.Efs("scope", "enable", volume.Backing, "hr");
            Assert.True(enable.ExitCode == 0, enable.ToString());
            Assert.Equal(7, RandomAccess.Read(open.SafeFileHandle, buffer, 0));
            Assert.Equal("salary\n", File.ReadAllText(Path.Combine(hr, "alice")));
        }

        // The state was persisted by the daemon: disabled now, it stays disabled across a remount.
        ProcessRunner.Efs("scope", "disable", volume.MountPoint, "hr").EnsureSuccess();
        volume.Remount();
        Assert.ThrowsAny<UnauthorizedAccessException>(() => File.ReadAllText(Path.Combine(hr, "alice")));
        volume.Unmount();
        var list = ProcessRunner.Efs("scope", "list", volume.Backing, "--json").EnsureSuccess();
        var scopes = JsonNode.Parse(list.Stdout)!["scopes"]!.AsArray();
        Assert.Equal("disabled", scopes.Single(s => s!["name"]!.GetValue<string>() == "hr")!["state"]!.GetValue<string>());
        Assert.Contains("\"action\":\"scope-disable\"", File.ReadAllText(audit), StringComparison.Ordinal);
    }

    [Fact]
    public void ScopesAreCreatedOnTheMountedVolumeByItsDaemon()
    {
        using var volume = MountedVolume.Create(mount: false);
        var keystore = Path.Combine(volume.Root, "keystore");
        var legalKey = Path.Combine(volume.Root, "legal-key");
        File.WriteAllText(legalKey, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        volume.TryMount("--keystore", keystore).EnsureSuccess();

        var provided = ProcessRunner.Efs("scope", "create", volume.MountPoint, "legal", "--key-source", "provided", "--new-key-file", legalKey, "--json");
        Assert.True(provided.ExitCode == 0, provided + "\n" + volume.Log);
        Assert.True(JsonNode.Parse(provided.Stdout)!["live"]!.GetValue<bool>());
        var platform = ProcessRunner.Efs("scope", "create", volume.MountPoint, "ops", "--key-source", "platform", "--keystore", keystore);
        Assert.True(platform.ExitCode == 0, platform + "\n" + volume.Log);
        var again = ProcessRunner.Efs("scope", "create", volume.MountPoint, "legal", "--key-source", "platform", "--keystore", keystore);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(keystore)); // the refused scope's new platform key was destroyed again

        foreach (var scope in new[] { "legal", "ops" })
        {
            var dir = volume.NewDirectory(scope);
            ProcessRunner.Shell($"setfattr -n user.efs.scope -v {scope} {dir} && echo {scope} > {dir}/file").EnsureSuccess();
        }

        var listed = JsonNode.Parse(ProcessRunner.Efs("scope", "list", volume.MountPoint, "--json").EnsureSuccess().Stdout)!["scopes"]!.AsArray();
        Assert.Equal(["default", "legal", "ops"], listed.Select(s => s!["name"]!.GetValue<string>()));

        // After a remount, each scope opens with its own credentials, given together.
        volume.Unmount();
        ProcessRunner.Efs("mount", volume.Backing, volume.MountPoint, "--key-file", volume.KeyFile, "--key-file", legalKey, "--keystore", keystore).EnsureSuccess();
        foreach (var scope in new[] { "legal", "ops" })
        {
            var dir = Directory.GetDirectories(volume.MountPoint, scope + "-*").Single();
            Assert.Equal(scope + "\n", File.ReadAllText(Path.Combine(dir, "file")));
        }
    }

    [Fact]
    public void ARevokedPlatformKeyLocksOnlyItsScopeOnTheLiveMountAndItsReturnRestoresIt()
    {
        using var volume = MountedVolume.Create(mount: false);
        var keystore = Path.Combine(volume.Root, "keystore");
        ProcessRunner.Efs("scope", "create", volume.Backing, "hr", "--key-file", volume.KeyFile, "--key-source", "platform", "--keystore", keystore).EnsureSuccess();
        volume.TryMount("--keystore", keystore).EnsureSuccess();
        var hr = volume.NewDirectory("hr");
        ProcessRunner.Shell($"setfattr -n user.efs.scope -v hr {hr} && echo salary > {hr}/alice").EnsureSuccess();
        File.WriteAllText(volume.PathOf("public"), "default scope");

        var ok = JsonNode.Parse(ProcessRunner.Efs("key", "check", volume.MountPoint, "--json").EnsureSuccess().Stdout)!.AsArray();
        Assert.Equal("ok", Outcome(ok, "hr"));
        Assert.Equal("skipped", Outcome(ok, "default"));

        // Revocation: the platform key leaves the keystore.
        var keyFile = Directory.GetFiles(keystore).Single();
        var saved = File.ReadAllBytes(keyFile);
        File.Delete(keyFile);
        var revoked = JsonNode.Parse(ProcessRunner.Efs("key", "check", volume.MountPoint, "--json").EnsureSuccess().Stdout)!.AsArray();
        Assert.Equal("revoked", Outcome(revoked, "hr"));
        Assert.ThrowsAny<UnauthorizedAccessException>(() => File.ReadAllText(Path.Combine(hr, "alice")));
        Assert.Equal("default scope", File.ReadAllText(volume.PathOf("public")));
        Assert.Contains("KEK revoked at its source", volume.Log, StringComparison.Ordinal);

        // The key comes back: the next check restores access.
        File.WriteAllBytes(keyFile, saved);
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var restored = JsonNode.Parse(ProcessRunner.Efs("key", "check", volume.MountPoint, "--json").EnsureSuccess().Stdout)!.AsArray();
        Assert.Equal("restored", Outcome(restored, "hr"));
        Assert.Equal("salary\n", File.ReadAllText(Path.Combine(hr, "alice")));
    }

    [Fact]
    public void TheDaemonChecksKeysOnItsOwnAtTheConfiguredInterval()
    {
        using var volume = MountedVolume.Create(mount: false);
        var keystore = Path.Combine(volume.Root, "keystore");
        ProcessRunner.Efs("scope", "create", volume.Backing, "hr", "--key-file", volume.KeyFile, "--key-source", "platform", "--keystore", keystore).EnsureSuccess();
        volume.TryMount("--keystore", keystore, "--key-check-interval", "1").EnsureSuccess();
        var hr = volume.NewDirectory("hr");
        ProcessRunner.Shell($"setfattr -n user.efs.scope -v hr {hr} && echo salary > {hr}/alice").EnsureSuccess();
        File.Delete(Directory.GetFiles(keystore).Single());

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!volume.Log.Contains("KEK revoked at its source", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the daemon did not notice the revoked key by itself\n" + volume.Log);
            Thread.Sleep(200);
        }

        Assert.ThrowsAny<UnauthorizedAccessException>(() => File.ReadAllText(Path.Combine(hr, "alice")));
    }

    [Fact]
    public void KeyRotationOnAMountedVolumeStartsANewDekGenerationLive()
    {
        using var volume = MountedVolume.Create();
        File.WriteAllText(volume.PathOf("old"), "generation one");
        var rotated = JsonNode.Parse(ProcessRunner.Efs("key", "rotate", volume.MountPoint, "--new-dek", "--json").EnsureSuccess().Stdout)!;
        Assert.Equal(2, rotated["dekGeneration"]!.GetValue<int>());
        File.WriteAllText(volume.PathOf("new"), "generation two");
        Assert.Equal(2, JsonNode.Parse(ProcessRunner.Efs("status", volume.PathOf("new"), "--json").EnsureSuccess().Stdout)!["dekGeneration"]!.GetValue<int>());
        Assert.Equal(1, JsonNode.Parse(ProcessRunner.Efs("status", volume.PathOf("old"), "--json").EnsureSuccess().Stdout)!["dekGeneration"]!.GetValue<int>());
        Assert.Equal("generation one", File.ReadAllText(volume.PathOf("old")));
        volume.Remount();
        Assert.Equal("generation two", File.ReadAllText(volume.PathOf("new")));
    }

    [Fact]
    public void APlatformKekIsReplacedOnTheMountedVolumeAndTheOldOneDestroyed()
    {
        using var volume = MountedVolume.Create(mount: false);
        var keystore = Path.Combine(volume.Root, "keystore");
        ProcessRunner.Efs("scope", "create", volume.Backing, "ops", "--key-file", volume.KeyFile, "--key-source", "platform", "--keystore", keystore).EnsureSuccess();
        volume.TryMount("--keystore", keystore).EnsureSuccess();
        var dir = volume.NewDirectory("ops");
        ProcessRunner.Shell($"setfattr -n user.efs.scope -v ops {dir} && echo kept > {dir}/file").EnsureSuccess();
        var oldKey = Directory.GetFiles(keystore).Single();

        var rotated = ProcessRunner.Efs("key", "rotate", volume.MountPoint, "--scope", "ops", "--keystore", keystore, "--json");
        Assert.True(rotated.ExitCode == 0, rotated + "\n" + volume.Log);
        var newKey = Directory.GetFiles(keystore).Single();
        Assert.NotEqual(oldKey, newKey);
        Assert.Contains(Path.GetFileNameWithoutExtension(newKey), JsonNode.Parse(rotated.Stdout)!["kekVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(dir, "file")));

        // The old key is gone and the volume opens with the new one.
        Assert.Equal("ok", Outcome(JsonNode.Parse(ProcessRunner.Efs("key", "check", volume.MountPoint, "--json").EnsureSuccess().Stdout)!.AsArray(), "ops"));
        volume.Unmount();
        volume.TryMount("--keystore", keystore).EnsureSuccess();
        Assert.Equal("kept\n", File.ReadAllText(Path.Combine(dir, "file")));
    }

    [Fact]
    public void ASocketPathTakenRefusesTheMountAndLeavesNothingMounted()
    {
        using var first = MountedVolume.Create(mount: false);
        using var second = MountedVolume.Create(mount: false);
        var socket = Path.Combine(first.Root, "control.sock");

        // Something that is not a socket: refused, untouched.
        File.WriteAllText(socket, "not a socket");
        var taken = first.TryMount("--control-socket", socket);
        Assert.Equal(2, taken.ExitCode);
        Assert.Contains("not a socket", taken.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(first.MountPoint));
        Assert.Equal("not a socket", File.ReadAllText(socket));
        File.Delete(socket);

        // A live socket of another mount: refused, the other mount goes on.
        first.TryMount("--control-socket", socket).EnsureSuccess();
        var busy = second.TryMount("--control-socket", socket);
        Assert.Equal(2, busy.ExitCode);
        Assert.Contains("in use by another running efs", busy.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(second.MountPoint));
        File.WriteAllText(first.PathOf("still"), "served");
        Assert.Equal("skipped", Outcome(JsonNode.Parse(ProcessRunner.Efs("key", "check", first.Backing, "--json").EnsureSuccess().Stdout)!.AsArray(), "default"));
    }

    [Fact]
    public void OtherUsersAreRefusedByTheSocketAndByItsPeerCheck()
    {
        using var volume = MountedVolume.Create(mount: false);
        var socket = Path.Combine(volume.Root, "control.sock");
        volume.TryMount("--control-socket", socket).EnsureSuccess();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));

        const string Client = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sys.argv[1])
            except PermissionError:
                print("connect: permission denied"); sys.exit(0)
            s.sendall(b'{"op":"list"}\n')
            print(s.makefile().readline())
            """;
        var script = Path.Combine(volume.Root, "client.py");
        File.WriteAllText(script, Client);
        File.SetUnixFileMode(script, (UnixFileMode)0b110_100_100);
        var nobody = ProcessRunner.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, socket]).EnsureSuccess();
        Assert.Contains("connect: permission denied", nobody.Stdout, StringComparison.Ordinal);

        // Even through a socket opened up by mistake, the daemon checks who is asking.
        File.SetUnixFileMode(socket, (UnixFileMode)0b110_110_110);
        var peer = ProcessRunner.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script, socket]).EnsureSuccess();
        Assert.Contains("permission denied: uid 65534", peer.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\"volumes\"", peer.Stdout, StringComparison.Ordinal);
    }

    private static string Outcome(JsonArray results, string scope) =>
        results.Single(r => r!["scope"]!.GetValue<string>() == scope)!["outcome"]!.GetValue<string>();
}

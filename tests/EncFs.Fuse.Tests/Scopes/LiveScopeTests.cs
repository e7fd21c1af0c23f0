using System.Text.Json.Nodes;
using EncFs.Fuse.Tests.Support;

namespace EncFs.Fuse.Tests.Scopes;

/// <summary>
/// Choosing scopes through the mount: user.efs.scope on an empty directory or file, and
/// user.efs.deny-override on a directory, enforced for what is created or moved inside.
/// </summary>
public sealed class LiveScopeTests
{
    [Fact]
    public void DirectoryAndFileScopesThroughExtendedAttributes()
    {
        using var volume = MountedVolume.Create(mount: false);
        ProcessRunner.Efs("scope", "create", volume.Backing, "hr", "--key-file", volume.KeyFile, "--key-source", "provided", "--new-key-file", volume.KeyFile).EnsureSuccess();
        volume.Mount();

        var dir = volume.PathOf("people");
        var script = $"""
            set -e
            mkdir {dir}
            setfattr -n user.efs.scope -v hr {dir}
            setfattr -n user.efs.deny-override -v 1 {dir}
            echo salary > {dir}/alice
            getfattr --only-values -n user.efs.scope {dir}/alice
            """;
        var result = ProcessRunner.Shell(script).EnsureSuccess();
        Assert.Equal("hr", result.Stdout.Trim());
        Assert.Equal("salary\n", File.ReadAllText(Path.Combine(dir, "alice")));
        var status = JsonNode.Parse(ProcessRunner.Efs("status", Path.Combine(dir, "alice"), "--json").EnsureSuccess().Stdout)!;
        Assert.Equal("hr", status["scope"]!.GetValue<string>());

        // Denied: another scope inside, or a file of another scope moved in.
        var denied = ProcessRunner.Shell($"touch {dir}/bob && setfattr -n user.efs.scope -v default {dir}/bob");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("Permission denied", denied.Stderr, StringComparison.Ordinal);
        File.WriteAllText(volume.PathOf("outsider"), "default scope");
        var move = ProcessRunner.Shell($"mv {volume.PathOf("outsider")} {dir}/");
        Assert.NotEqual(0, move.ExitCode);
        Assert.True(File.Exists(volume.PathOf("outsider")));
        Assert.Contains("Scope override denied", volume.Log, StringComparison.Ordinal);

        // A file's scope is chosen before its first byte, then fixed.
        var file = volume.PathOf("memo");
        ProcessRunner.Shell($"touch {file} && setfattr -n user.efs.scope -v hr {file} && echo text > {file}").EnsureSuccess();
        Assert.Equal("hr", JsonNode.Parse(ProcessRunner.Efs("status", file, "--json").Stdout)!["scope"]!.GetValue<string>());
        var late = ProcessRunner.Shell($"setfattr -n user.efs.scope -v default {file}");
        Assert.NotEqual(0, late.ExitCode);
        Assert.Equal("text\n", File.ReadAllText(file));

        // A directory's scope is chosen while it is empty.
        var full = ProcessRunner.Shell($"setfattr -n user.efs.scope -v default {dir}");
        Assert.NotEqual(0, full.ExitCode);

        volume.Remount();
        Assert.Equal("salary\n", File.ReadAllText(Path.Combine(dir, "alice")));
        Assert.Equal("text\n", File.ReadAllText(file));
    }
}

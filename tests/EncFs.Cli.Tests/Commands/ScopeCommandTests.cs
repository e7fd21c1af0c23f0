using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Commands;

/// <summary>efs scope on an unmounted volume: create, list, show, disable, enable, and the audit trail.</summary>
public sealed class ScopeCommandTests
{
    [Fact]
    public void ScopeLifecycleThroughTheCommand()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        var key = temp.Combine("key");
        var scopeKey = temp.Combine("scope-key");
        var audit = temp.Combine("audit.jsonl");
        File.WriteAllText(key, new string('1', 64));
        File.WriteAllText(scopeKey, new string('2', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-file", key).ExitCode);

        var create = ProcessRunner.Efs("scope", "create", backing, "finance", "--key-file", key, "--key-source", "provided", "--new-key-file", scopeKey, "--infrastructure-encryption", "--json", "--audit-log", audit);
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal("finance", JsonNode.Parse(create.Stdout)!["name"]!.GetValue<string>());

        var again = ProcessRunner.Efs("scope", "create", backing, "finance", "--key-file", key, "--key-source", "provided", "--new-key-file", scopeKey);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);

        var list = JsonNode.Parse(ProcessRunner.Efs("scope", "list", backing, "--json").Stdout)!["scopes"]!.AsArray();
        Assert.Equal(["default", "finance"], list.Select(s => s!["name"]!.GetValue<string>()));
        Assert.True(list[1]!["infrastructureEncryption"]!.GetValue<bool>());

        Assert.Equal(0, ProcessRunner.Efs("scope", "disable", backing, "finance", "--key-file", key, "--audit-log", audit).ExitCode);
        var shown = JsonNode.Parse(ProcessRunner.Efs("scope", "show", backing, "finance", "--json").Stdout)!;
        Assert.Equal("disabled", shown["state"]!.GetValue<string>());

        var defaultDisable = ProcessRunner.Efs("scope", "disable", backing, "default", "--key-file", key);
        Assert.Equal(2, defaultDisable.ExitCode); // refused, nothing changed: as when the mounted volume's daemon refuses it
        Assert.Contains("default scope", defaultDisable.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, ProcessRunner.Efs("scope", "enable", backing, "finance", "--key-file", key, "--audit-log", audit).ExitCode);
        Assert.Equal("enabled", JsonNode.Parse(ProcessRunner.Efs("scope", "show", backing, "finance", "--json").Stdout)!["state"]!.GetValue<string>());

        var actions = File.ReadAllLines(audit).Select(l => JsonNode.Parse(l)!["action"]!.GetValue<string>()).ToList();
        Assert.Contains("scope-create", actions);
        Assert.Contains("scope-disable", actions);
        Assert.Contains("scope-enable", actions);
        Assert.DoesNotContain(new string('2', 64), File.ReadAllText(audit), StringComparison.Ordinal);
    }

    [Fact]
    public void ScopesWithDifferentProvidedKeysOpenInOneCommand()
    {
        using var temp = new TempDirectory();
        var backing = temp.Combine("vol");
        var key = temp.Combine("key");
        var otherKey = temp.Combine("other-key");
        File.WriteAllText(key, new string('3', 64));
        File.WriteAllText(otherKey, new string('4', 64));
        Assert.Equal(0, ProcessRunner.Efs("init", backing, "--key-file", key).ExitCode);
        Assert.Equal(0, ProcessRunner.Efs("scope", "create", backing, "legal", "--key-file", key, "--key-source", "provided", "--new-key-file", otherKey).ExitCode);

        // Each scope takes the key whose SHA-256 it stores, in either order.
        var both = ProcessRunner.Efs("recover", backing, "--scope", "legal", "--key-file", otherKey, "--key-file", key);
        Assert.True(both.ExitCode == 0, both.ToString());
        Assert.Matches("^[0-9a-f]{64}$", both.Stdout.Trim());
        Assert.Equal(0, ProcessRunner.Efs("recover", backing, "--key-file", key, "--key-file", otherKey).ExitCode);

        var one = ProcessRunner.Efs("recover", backing, "--scope", "legal", "--key-file", key);
        Assert.Equal(2, one.ExitCode);
        Assert.Contains("scope 'legal' is locked: wrong passphrase or key", one.Stderr, StringComparison.Ordinal);

        var twoForInit = ProcessRunner.Efs("init", temp.Combine("vol2"), "--key-file", key, "--key-file", otherKey);
        Assert.Equal(2, twoForInit.ExitCode);
        Assert.Contains("give one --key-file", twoForInit.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("vol2")));
    }
}

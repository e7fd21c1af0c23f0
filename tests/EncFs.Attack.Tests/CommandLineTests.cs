using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Attack.Tests.Support;

namespace EncFs.Attack.Tests;

/// <summary>efs attack as a process: exit codes, messages, reports.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void ExitsZeroOnACleanVolumeAndWritesJsonAndHtml()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("hello.txt", "hello, plaintext world, this is long enough"u8.ToArray());
        var json = Path.Combine(volume.Scratch, "r.json");
        var html = Path.Combine(volume.Scratch, "r.html");
        var result = ProcessRunner.Efs("attack", volume.Backing, "--known", volume.Known, "--json", json, "--html", html);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("no plaintext, name or key leak found", result.Stdout, StringComparison.Ordinal);
        var root = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.NotEmpty(root["findings"]!.AsArray());
        foreach (var finding in root["findings"]!.AsArray())
        {
            Assert.NotNull((string?)finding!["kind"]);
            Assert.Contains((string)finding["severity"]!, new[] { "info", "low", "medium", "high", "critical" });
            Assert.StartsWith(volume.Backing, (string)finding["path"]!, StringComparison.Ordinal);
            Assert.NotNull((string?)finding["evidence"]);
        }

        Assert.False((bool)root["summary"]!["leak"]!);
        var page = File.ReadAllText(html);
        Assert.StartsWith("<!DOCTYPE html>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<link", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", page, StringComparison.Ordinal);
        Assert.DoesNotContain("src=", page, StringComparison.Ordinal);
    }

    [Fact]
    public void ExitsThreeOnALeakAndEscapesHtml()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("<b>bold-name<i>.txt", "a known sentence that must never reach the disk"u8.ToArray());
        File.WriteAllText(Path.Combine(volume.Tree, "<b>bold-name<i>.txt"), "a known sentence that must never reach the disk");
        var html = Path.Combine(volume.Scratch, "r.html");
        var json = Path.Combine(volume.Scratch, "r.json");
        var result = ProcessRunner.Efs("attack", volume.Backing, "--known", volume.Known, "--html", html, "--json", json);
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("LEAK", result.Stdout, StringComparison.Ordinal);
        var page = File.ReadAllText(html);
        Assert.Contains("&lt;b&gt;bold-name&lt;i&gt;", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold-name", page, StringComparison.Ordinal);
        var kinds = Json.Leaks(json).Select(f => (string)f["kind"]!).ToHashSet();
        Assert.Contains("plaintext-leak", kinds);
        Assert.Contains("name-leak", kinds);
    }

    [Fact]
    public void ExitsTwoOnBadInputWithAClearMessage()
    {
        using var volume = new TestVolume();
        var missing = Path.Combine(volume.Scratch, "missing");
        var result = ProcessRunner.Efs("attack", missing);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("does not exist", result.Stderr, StringComparison.Ordinal);

        result = ProcessRunner.Efs("attack", volume.Known);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("is not an EncFs volume", result.Stderr, StringComparison.Ordinal);

        var broken = Path.Combine(volume.Scratch, "broken");
        Directory.CreateDirectory(broken);
        File.WriteAllText(Path.Combine(broken, "efs.volume"), "{ not json");
        result = ProcessRunner.Efs("attack", broken);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("is not a readable EncFs volume", result.Stderr, StringComparison.Ordinal);

        var keys = volume.WriteScratch("keys", "not-hex-at-all\n");
        result = ProcessRunner.Efs("attack", volume.Backing, "--keys", keys);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("line 1: not a hex key", result.Stderr, StringComparison.Ordinal);

        result = ProcessRunner.Efs("attack", volume.Backing, "--keys", Path.Combine(volume.Scratch, "nokeys"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("cannot read the key file", result.Stderr, StringComparison.Ordinal);

        result = ProcessRunner.Efs("attack", volume.Backing, "--known", missing);
        Assert.Equal(2, result.ExitCode);
        result = ProcessRunner.Efs("attack", volume.Backing, "--earlier", volume.Known);
        Assert.Equal(2, result.ExitCode);
        result = ProcessRunner.Efs("attack", volume.Backing, "--no-such-option");
        Assert.Equal(2, result.ExitCode);
    }

    [Fact]
    public void ExitsOneWhenTheReportCannotBeWritten()
    {
        using var volume = new TestVolume();
        var result = ProcessRunner.Efs("attack", volume.Backing, "--json", Path.Combine(volume.Scratch, "no-such-dir", "r.json"));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("efs: ", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpDescribesEveryOption()
    {
        var result = ProcessRunner.Efs("attack", "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var option in new[] { "--known", "--earlier", "--keys", "--json", "--html" })
        {
            Assert.Contains(option, result.Stdout, StringComparison.Ordinal);
        }

        Assert.Contains("attack", ProcessRunner.Efs("--help").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyFoundInAnXattrExitsThree()
    {
        using var volume = new TestVolume();
        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var keys = volume.WriteScratch("keys", key + "\n");
        Xattr.Set(Path.Combine(volume.Tree, ".efsdir"), "user.note", key);
        var json = Path.Combine(volume.Scratch, "r.json");
        var result = ProcessRunner.Efs("attack", volume.Backing, "--keys", keys, "--json", json);
        Assert.True(result.ExitCode == 3, result.ToString());
        var leak = Assert.Single(Json.Leaks(json));
        Assert.Equal("key-material", (string)leak["kind"]!);
        Assert.EndsWith("root/.efsdir", (string)leak["path"]!, StringComparison.Ordinal);
    }
}

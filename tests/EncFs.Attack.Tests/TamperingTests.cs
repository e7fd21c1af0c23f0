using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Attack.Tests.Support;

namespace EncFs.Attack.Tests;

/// <summary>
/// `efs attack --tamper`: a real tree written through a real mount, the disk "removed" (copied),
/// then each tampering scenario applied to a scratch copy and read back with the right key.
/// </summary>
public sealed class TamperingTests
{
    public static TheoryData<string> Layers => new() { "default", "infrastructure" };

    [Theory]
    [MemberData(nameof(Layers))]
    public void EachTamperingIsReportedAsTheLayerDocuments(string layer)
    {
        bool infrastructure = layer == "infrastructure";
        using var volume = MountedVolume.Create(initOptions: infrastructure ? ["--infrastructure-encryption"] : null);
        using var scratch = new ScratchDirectory();
        File.WriteAllText(volume.PathOf("ledger.csv"), Rows("ledger", 18_000));  // 5 sectors
        File.WriteAllText(volume.PathOf("notes.txt"), Rows("notes", 10_000));    // 3 sectors
        File.WriteAllText(volume.PathOf("small.txt"), "one sector only\n");
        volume.Unmount();
        var earlier = Path.Combine(scratch.Path, "earlier");
        ProcessRunner.Run("cp", ["-a", volume.Backing, earlier]).EnsureSuccess();

        volume.Mount();
        using (var notes = new FileStream(volume.PathOf("notes.txt"), FileMode.Open, FileAccess.Write))
        {
            notes.Position = 5000;
            notes.Write("CHANGED AFTER THE EARLIER COPY\n"u8);
        }

        volume.Unmount();
        var copy = Path.Combine(scratch.Path, "copy");
        ProcessRunner.Run("cp", ["-a", volume.Backing, copy]).EnsureSuccess();
        var before = TreeDigest(copy);
        var earlierBefore = TreeDigest(earlier);

        var json = Path.Combine(scratch.Path, "tamper.json");
        var html = Path.Combine(scratch.Path, "tamper.html");
        var result = ProcessRunner.Efs("attack", copy, "--tamper", "--key-file", volume.KeyFile, "--earlier", earlier, "--json", json, "--html", html);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(before, TreeDigest(copy));
        Assert.Equal(earlierBefore, TreeDigest(earlier));
        Assert.Contains("tamper", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("swap-within-file", File.ReadAllText(html), StringComparison.Ordinal);

        var root = JsonNode.Parse(File.ReadAllText(json))!;
        var scenarios = ((JsonArray)root["summary"]!["tamper"]!).Select(n => n!).ToDictionary(n => (string)n["scenario"]!, n => n);
        string Result(string scenario) => (string)scenarios[scenario]["result"]!;
        string Severity(string scenario) => (string)scenarios[scenario]["severity"]!;
        var detail = root.ToJsonString();

        // The largest file is the target; the second largest is the partner of the cross-file swap.
        var ledger = Assert.Single(Json.Findings(json).Select(f => f!), f => ((string)f["evidence"]!).StartsWith("[bit-flip]", StringComparison.Ordinal));
        Assert.Contains("(/ledger.csv)", (string)ledger["evidence"]!, StringComparison.Ordinal);
        Assert.StartsWith(Path.Combine(copy, "root"), (string)ledger["path"]!, StringComparison.Ordinal);

        if (infrastructure)
        {
            foreach (var scenario in new[] { "bit-flip", "swap-within-file", "swap-between-files", "truncate" })
            {
                Assert.True(Result(scenario) == "error (EIO)", scenario + ": " + detail);
                Assert.Equal("info", Severity(scenario));
            }
        }
        else
        {
            Assert.True(Result("bit-flip") == "data: differs from the original", detail);
            Assert.True(Result("swap-within-file") == "data: differs from the original", detail);
            Assert.True(Result("swap-between-files") == "data: differs from the original", detail);
            Assert.True(Result("truncate") == "error (EIO)", detail);
            Assert.Equal("medium", Severity("bit-flip"));
            Assert.Equal("info", Severity("truncate"));
        }

        // A whole file rolled back, header included, is not detected by either layer (documented).
        Assert.True(Result("rollback") == "data: equals the earlier version (rolled back silently)", detail);
        Assert.Equal("medium", Severity("rollback"));
        Assert.Contains("(/notes.txt)", Evidence(json, "rollback"), StringComparison.Ordinal);

        Assert.True(Result("header-replaced") == "refused", detail);
        Assert.Equal("info", Severity("header-replaced"));
        Assert.DoesNotContain(Json.Findings(json).Select(f => f!), f => (string)f["kind"]! == "tamper" && (string)f["severity"]! is "high" or "critical");
    }

    [Fact]
    public void TamperWithTheWrongKeyIsBadInput()
    {
        using var volume = MountedVolume.Create(mount: false);
        using var scratch = new ScratchDirectory();
        var wrong = Path.Combine(scratch.Path, "wrong.key");
        File.WriteAllText(wrong, Convert.ToHexString(RandomNumberGenerator.GetBytes(32)));
        var result = ProcessRunner.Efs("attack", volume.Backing, "--tamper", "--key-file", wrong, "-q");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--tamper", result.Stderr, StringComparison.Ordinal);
        result = ProcessRunner.Efs("attack", volume.Backing, "--key-file", volume.KeyFile, "-q");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("only with --tamper", result.Stderr, StringComparison.Ordinal);
    }

    private static string Evidence(string json, string scenario) =>
        (string)Json.Findings(json).Select(f => f!).Single(f => ((string)f["evidence"]!).StartsWith($"[{scenario}]", StringComparison.Ordinal))["evidence"]!;

    private static string Rows(string prefix, int length)
    {
        var text = new StringBuilder();
        for (int row = 0; text.Length < length; row++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{prefix} row {row:D6}: some plaintext worth protecting\n");
        }

        return text.ToString()[..length];
    }

    /// <summary>Every entry's relative path, type, and for files the SHA-256 of the contents.</summary>
    private static string TreeDigest(string root)
    {
        var lines = new List<string>();
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, entry.FullName);
            lines.Add(entry switch
            {
                _ when entry.LinkTarget is { } target => $"{relative} -> {target}",
                DirectoryInfo => relative + "/",
                _ => $"{relative} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(entry.FullName)))} {File.GetLastWriteTimeUtc(entry.FullName):O}",
            });
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }
}

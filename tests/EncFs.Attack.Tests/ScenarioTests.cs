using System.Text;
using System.Text.Json.Nodes;
using EncFs.Attack.Tests.Support;

namespace EncFs.Attack.Tests;

/// <summary>
/// "Remove the disk": a real tree written through a real FUSE mount, the volume unmounted, the
/// backing directory copied, and `efs attack` run on the copy as the attacker would.
/// </summary>
public sealed class ScenarioTests
{
    private const int LedgerBytes = 18_000; // 5 sectors: the only file of that size in the tree

    public static TheoryData<string> Layers => new() { "default", "infrastructure" };

    [Theory]
    [MemberData(nameof(Layers))]
    public void TheCopiedMediumLeaksNothingAndChangesAreNamedExactly(string layer)
    {
        using var volume = MountedVolume.Create(initOptions: layer == "infrastructure" ? ["--infrastructure-encryption"] : null);
        using var scratch = new ScratchDirectory();
        var known = Path.Combine(scratch.Path, "known");
        WriteKnownTree(known);
        ProcessRunner.Run("cp", ["-a", known + "/.", volume.MountPoint]).EnsureSuccess();
        Assert.Equal("top-secret-handling-only", ProcessRunner.Run("getfattr", ["--only-values", "-n", "user.classification", volume.PathOf("secret-plans.txt")]).EnsureSuccess().Stdout);
        Assert.Equal("secret-plans.txt", new FileInfo(volume.PathOf("shortcut-to-the-plans")).LinkTarget);
        volume.Unmount();

        var keys = Path.Combine(scratch.Path, "keys");
        var recovered = JsonNode.Parse(ProcessRunner.Efs("recover", volume.Backing, "--key-file", volume.KeyFile, "--json").EnsureSuccess().Stdout)!;
        var keyLines = new List<string> { (string)recovered["dek"]!, File.ReadAllText(volume.KeyFile).Trim() };
        if ((string?)recovered["infrastructureKey"] is { } infrastructureKey)
        {
            keyLines.Add(infrastructureKey);
        }

        Assert.Equal(layer == "infrastructure" ? 3 : 2, keyLines.Count);
        File.WriteAllLines(keys, keyLines);

        // The disk is removed.
        var first = Path.Combine(scratch.Path, "copy1");
        ProcessRunner.Run("cp", ["-a", volume.Backing, first]).EnsureSuccess();
        var json = Path.Combine(scratch.Path, "first.json");
        var result = ProcessRunner.Efs("attack", first, "--known", known, "--keys", keys, "--json", json);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(Json.Leaks(json));
        var findings = Json.Findings(json).Select(f => f!).ToList();
        Assert.DoesNotContain(findings, f => (string)f["severity"]! is "high" or "critical");
        Assert.Contains(findings, f => (string)f["kind"]! == "structure" && ((string)f["evidence"]!).Contains("4 files, 2 directories (the root included), 1 symlinks", StringComparison.Ordinal));

        // One file changes through the mount; the disk is copied again.
        volume.Mount();
        using (var ledger = new FileStream(volume.PathOf("ledger-2026.csv"), FileMode.Open, FileAccess.Write))
        {
            ledger.Position = 9000; // sector 2
            ledger.Write("CHANGED-ROW,999999\n"u8);
        }

        volume.Unmount();
        var second = Path.Combine(scratch.Path, "copy2");
        ProcessRunner.Run("cp", ["-a", volume.Backing, second]).EnsureSuccess();
        int stride = 4096 + (layer == "infrastructure" ? 28 : 0);
        var ledgerBacking = Assert.Single(Directory.EnumerateFiles(Path.Combine(second, "root"), "*", SearchOption.AllDirectories),
            f => new FileInfo(f).Length == 96 + (5 * stride));
        json = Path.Combine(scratch.Path, "second.json");
        result = ProcessRunner.Efs("attack", second, "--earlier", first, "--known", known, "--keys", keys, "--json", json);
        Assert.True(result.ExitCode == 0, result.ToString());
        findings = Json.Findings(json).Select(f => f!).ToList();
        var changed = Assert.Single(findings, f => ((string)f["kind"]!).StartsWith("snapshot-", StringComparison.Ordinal) && (string)f["kind"]! != "snapshot-metadata");
        Assert.Equal("snapshot-changed", (string)changed["kind"]!);
        Assert.Equal(ledgerBacking, (string)changed["path"]!);
        var evidence = (string)changed["evidence"]!;
        Assert.Contains(layer == "infrastructure" ? "fresh nonce" : "AES-XTS is deterministic", evidence, StringComparison.Ordinal);
        Assert.Contains("sector(s) changed: 2", evidence, StringComparison.Ordinal);

        // Plaintext planted on the medium is found, named, and fails the run.
        var planted = Path.Combine(second, "root", "planted-by-attacker");
        File.Copy(Path.Combine(known, "secret-plans.txt"), planted);
        json = Path.Combine(scratch.Path, "planted.json");
        result = ProcessRunner.Efs("attack", second, "--known", known, "--keys", keys, "--json", json);
        Assert.True(result.ExitCode == 3, result.ToString());
        var leak = Assert.Single(Json.Leaks(json), f => (string)f["kind"]! == "plaintext-leak");
        Assert.Equal(planted, (string)leak["path"]!);
        Assert.Contains("known/secret-plans.txt", (string)leak["evidence"]!, StringComparison.Ordinal);
        Assert.Contains(planted, result.Stdout, StringComparison.Ordinal);
    }

    private static void WriteKnownTree(string known)
    {
        Directory.CreateDirectory(Path.Combine(known, "board-meeting-minutes"));
        File.WriteAllText(Path.Combine(known, "secret-plans.txt"), "Operation Nightingale: acquire the competitor on the first of March. Tell nobody.\n");
        var ledger = new StringBuilder();
        for (int row = 0; ledger.Length < LedgerBytes; row++)
        {
            ledger.Append(System.Globalization.CultureInfo.InvariantCulture, $"{row:D6},payment to offshore account {row * 7919 % 100000:D5},EUR {row * 31 % 1000}.{row % 100:D2}\n");
        }

        File.WriteAllText(Path.Combine(known, "ledger-2026.csv"), ledger.ToString()[..LedgerBytes]);
        File.WriteAllText(Path.Combine(known, "board-meeting-minutes", "minutes-of-march.md"), "# Minutes\nPresent: the whole board. Agreed: the Nightingale acquisition.\n");
        File.WriteAllText(Path.Combine(known, "board-meeting-minutes", "attendees-list.txt"), "Alice Anderson, Bob Brown, Carol Clark\n");
        File.CreateSymbolicLink(Path.Combine(known, "shortcut-to-the-plans"), "secret-plans.txt");
        Xattr.Set(Path.Combine(known, "secret-plans.txt"), "user.classification", "top-secret-handling-only");
    }
}

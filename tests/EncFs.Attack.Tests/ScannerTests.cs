using System.Security.Cryptography;
using System.Text;
using EncFs.Attack.Tests.Support;

namespace EncFs.Attack.Tests;

/// <summary>The scanners alone and the analysis over a real (empty) volume with planted data.</summary>
public sealed class ScannerTests
{
    private static readonly byte[] Run16 = "unique-run-16byt"u8.ToArray();

    [Fact]
    public void RunIndexFindsAPlantedRunAcrossChunkBoundariesWithCarry()
    {
        var known = RandomNumberGenerator.GetBytes(5000);
        var index = new RunIndex();
        index.AddBytes(known);
        var data = RandomNumberGenerator.GetBytes(3 * 4096);
        known.AsSpan(1234, 16).CopyTo(data.AsSpan(4096 - 7)); // straddles the first 4096-byte chunk boundary

        // The bytes around the run differ from the known file's, so the run is exactly 16 bytes
        // (a random neighbour equal to the known one would extend it to 17, one time in 128).
        data[4096 - 8] = (byte)~known[1233];
        data[4096 - 7 + 16] = (byte)~known[1250];

        var matches = new List<RunMatch>();
        int carry = 0;
        var buffer = new byte[15 + 4096];
        for (long position = 0; position < data.Length; position += 4096)
        {
            data.AsSpan((int)position, 4096).CopyTo(buffer.AsSpan(carry));
            index.Scan(buffer.AsSpan(0, carry + 4096), position - carry, matches.Add, skipBefore: 0);
            buffer.AsSpan(carry + 4096 - 15, 15).CopyTo(buffer);
            carry = 15;
        }

        var match = Assert.Single(matches);
        Assert.Equal(4096 - 7, match.Offset);
        Assert.Equal(1234, match.Known.Offset);
    }

    [Fact]
    public void RunIndexAndPatternsFindNothingInRandomData()
    {
        var index = new RunIndex();
        for (int i = 0; i < 8; i++)
        {
            index.AddBytes(RandomNumberGenerator.GetBytes(64 * 1024));
        }

        var patterns = new PatternMatcher();
        patterns.Add(new Pattern(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))), FindingKinds.KeyMaterial, "key", true));
        patterns.Add(new Pattern("quarterly-report.txt"u8.ToArray(), FindingKinds.NameLeak, "name", true));
        var data = RandomNumberGenerator.GetBytes(16 << 20);
        int hits = 0;
        index.Scan(data, 0, _ => hits++);
        patterns.Scan(data, 0, contents: true, _ => hits++);
        Assert.Equal(0, hits);
        Assert.Equal(8 * ((64 * 1024) - 15), index.IndexedWindows);
    }

    [Fact]
    public void PatternMatcherReportsAMatchSpanningTheCarryOnce()
    {
        var patterns = new PatternMatcher();
        patterns.Add(new Pattern("needle-in-haystack"u8.ToArray(), FindingKinds.NameLeak, "long", true));
        patterns.Add(new Pattern("abcd"u8.ToArray(), FindingKinds.NameLeak, "short", true));
        var whole = new byte[200];
        "needle-in-haystack"u8.CopyTo(whole.AsSpan(90)); // runs past the end of the first chunk
        "abcd"u8.CopyTo(whole.AsSpan(20));
        "abcd"u8.CopyTo(whole.AsSpan(86)); // inside the first chunk and inside the carry of the second
        var hits = new List<PatternMatch>();
        patterns.Scan(whole.AsSpan(0, 100), 0, contents: true, hits.Add);
        patterns.Scan(whole.AsSpan(100 - 17, 117), 100 - 17, contents: true, hits.Add, carry: 17);
        Assert.Equal([(20L, "short"), (86L, "short"), (90L, "long")], hits.Select(h => (h.Offset, h.Pattern.Label)).Order());
    }

    [Fact]
    public void SectorStatisticsTellCiphertextFromTextAndHoles()
    {
        var random = SectorStats.Of(RandomNumberGenerator.GetBytes(4096));
        Assert.True(random.Entropy > 7.9, random.ToString());
        Assert.False(random.LowEntropy);
        var text = SectorStats.Of(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("The quick brown fox jumps. ", 200)))[..4096]);
        Assert.True(text.LowEntropy, text.ToString());
        Assert.True(SectorStats.Of(new byte[4096]).AllZero);
    }

    [Fact]
    public void FindsARunPlantedAcrossTheScannersOneMebibyteReadBoundary()
    {
        using var volume = new TestVolume();
        var known = RandomNumberGenerator.GetBytes(10_000);
        volume.WriteKnown("plain.bin", known);
        var planted = RandomNumberGenerator.GetBytes(3 << 20);
        int at = 96 + (1 << 20) - 9; // the scanner reads 96 bytes, then 1 MiB chunks
        known.AsSpan(5000, 16).CopyTo(planted.AsSpan(at));
        File.WriteAllBytes(Path.Combine(volume.Tree, "planted.bin"), planted);

        var report = volume.Attack();
        var leak = Assert.Single(report.Findings, f => f.Kind == FindingKinds.PlaintextLeak);
        Assert.Equal(Path.Combine(volume.Tree, "planted.bin"), leak.Path);
        Assert.Contains($"offset {at}", leak.Evidence, StringComparison.Ordinal);
        Assert.Contains("offset 5000 of the known file", leak.Evidence, StringComparison.Ordinal);
        Assert.True(report.HasLeak);
    }

    [Fact]
    public void FindsAKnownRunInABackingFileName()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("a.txt", Encoding.ASCII.GetBytes("prefix " + Encoding.ASCII.GetString(Run16) + " suffix"));
        File.WriteAllBytes(Path.Combine(volume.Tree, "x" + Encoding.ASCII.GetString(Run16) + "y"), RandomNumberGenerator.GetBytes(100));
        var report = volume.Attack();
        Assert.Contains(report.Findings, f => f.Kind == FindingKinds.PlaintextLeak && f.Evidence.StartsWith("its name", StringComparison.Ordinal));
    }

    [Fact]
    public void FindsAKnownFileNameInABackingNameAndInContents()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("budget-forecast.xlsx", RandomNumberGenerator.GetBytes(100));
        Directory.CreateDirectory(Path.Combine(volume.Tree, "old-budget-forecast.xlsx-copy"));
        File.WriteAllBytes(Path.Combine(volume.Tree, "index"), [.. RandomNumberGenerator.GetBytes(5000), .. "budget-forecast.xlsx"u8, .. RandomNumberGenerator.GetBytes(50)]);
        var report = volume.Attack();
        var names = report.Findings.Where(f => f.Kind == FindingKinds.NameLeak).ToList();
        Assert.Contains(names, f => f.Path.EndsWith("old-budget-forecast.xlsx-copy", StringComparison.Ordinal) && f.Evidence.Contains("budget-forecast.xlsx", StringComparison.Ordinal));
        Assert.Contains(names, f => f.Path.EndsWith("/index", StringComparison.Ordinal) && f.Evidence.Contains("offset 5000", StringComparison.Ordinal));
    }

    [Fact]
    public void FindsAKnownRunAndAKnownNameInXattrs()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("memo-to-board.txt", Encoding.ASCII.GetBytes("xx" + Encoding.ASCII.GetString(Run16) + "xx"));
        var victim = Path.Combine(volume.Tree, "victim");
        File.WriteAllBytes(victim, RandomNumberGenerator.GetBytes(64));
        Xattr.Set(victim, "user.efs.value", "~~" + Encoding.ASCII.GetString(Run16));
        Xattr.Set(volume.Tree, "user.memo-to-board.txt", "0x00");
        var report = volume.Attack();
        Assert.Contains(report.Findings, f => f.Kind == FindingKinds.PlaintextLeak && f.Path == victim && f.Evidence.Contains("the value of its xattr 'user.efs.value'", StringComparison.Ordinal));
        Assert.Contains(report.Findings, f => f.Kind == FindingKinds.NameLeak && f.Path == volume.Tree && f.Evidence.Contains("the name of its xattr", StringComparison.Ordinal));
    }

    [Fact]
    public void FindsAKnownRunAndAKnownTargetInSymlinkTargets()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("doc.txt", Encoding.ASCII.GetBytes("...." + Encoding.ASCII.GetString(Run16) + "...."));
        File.CreateSymbolicLink(Path.Combine(volume.Known, "shortcut"), "../elsewhere/target-of-link");
        File.CreateSymbolicLink(Path.Combine(volume.Tree, "l1"), "/tmp/" + Encoding.ASCII.GetString(Run16));
        File.CreateSymbolicLink(Path.Combine(volume.Tree, "l2"), "../elsewhere/target-of-link");
        var report = volume.Attack();
        Assert.Contains(report.Findings, f => f.Kind == FindingKinds.PlaintextLeak && f.Path.EndsWith("/l1", StringComparison.Ordinal) && f.Evidence.StartsWith("its symlink target", StringComparison.Ordinal));
        Assert.Contains(report.Findings, f => f.Kind == FindingKinds.NameLeak && f.Path.EndsWith("/l2", StringComparison.Ordinal) && f.Evidence.Contains("symlink target of known/shortcut", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("hex")]
    [InlineData("HEX")]
    [InlineData("base64")]
    [InlineData("base64url")]
    [InlineData("raw")]
    public void FindsAPlantedKeyInEachForm(string form)
    {
        using var volume = new TestVolume();
        var key = RandomNumberGenerator.GetBytes(32);
        var keys = volume.WriteScratch("keys", "# test keys\n" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n" + Convert.ToHexStringLower(key) + "\n");
        byte[] encoded = form switch
        {
            "hex" => Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key)),
            "HEX" => Encoding.ASCII.GetBytes(Convert.ToHexString(key)),
            "base64" => Encoding.ASCII.GetBytes(Convert.ToBase64String(key)),
            "base64url" => Encoding.ASCII.GetBytes(Convert.ToBase64String(key).TrimEnd('=').Replace('+', '-').Replace('/', '_')),
            _ => key,
        };
        File.WriteAllBytes(Path.Combine(volume.Tree, "leaky"), [.. RandomNumberGenerator.GetBytes(4000), .. encoded, .. RandomNumberGenerator.GetBytes(4000)]);
        var report = volume.Attack(keys: keys);
        var finding = Assert.Single(report.Findings, f => f.Kind == FindingKinds.KeyMaterial);
        Assert.Matches($@"key #2 of keys \(32 bytes, line 3\) as (\S+ or )?{form}\b", finding.Evidence);
        Assert.Contains("offset 4000", finding.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void RandomDataAndAnEmptyVolumeGiveNoLeak()
    {
        using var volume = new TestVolume();
        for (int i = 0; i < 4; i++)
        {
            volume.WriteKnown($"dir-{i}/random-file-{i}.bin", RandomNumberGenerator.GetBytes(256 * 1024));
        }

        File.WriteAllBytes(Path.Combine(volume.Tree, "noise"), RandomNumberGenerator.GetBytes(8 << 20));
        var keys = volume.WriteScratch("keys", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(64)) + "\n");
        var report = volume.Attack(keys: keys);
        Assert.False(report.HasLeak, string.Join("\n", report.Findings));
        Assert.DoesNotContain(report.Findings, f => f.Severity >= Severity.High);
    }

    [Fact]
    public void ReportsLowEntropySectorsAndHolesOfEncFsFiles()
    {
        using var volume = new TestVolume();
        var header = new byte[96];
        "EFSF"u8.CopyTo(header);
        header[4] = 1;
        header[6] = 12;
        var text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("plain words in a sector ", 200)))[..4096];
        File.WriteAllBytes(Path.Combine(volume.Tree, "weak"), [.. header, .. RandomNumberGenerator.GetBytes(4096), .. text, .. new byte[4096], .. RandomNumberGenerator.GetBytes(4096)]);
        var report = volume.Attack();
        var low = Assert.Single(report.Findings, f => f.Kind == FindingKinds.LowEntropy && f.Severity == Severity.High);
        Assert.Contains("1 of 4 stored sectors", low.Evidence, StringComparison.Ordinal);
        Assert.Contains("sector 1:", low.Evidence, StringComparison.Ordinal);
        var holes = Assert.Single(report.Findings, f => f.Kind == FindingKinds.Holes);
        Assert.Equal(Severity.Info, holes.Severity);
        Assert.Contains("sectors 2", holes.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void AKnownNameEqualToAHeaderWordIsNotALeak()
    {
        using var volume = new TestVolume();
        volume.WriteKnown("currentGeneration", RandomNumberGenerator.GetBytes(10));
        volume.WriteKnown("infrastructureEncryption", RandomNumberGenerator.GetBytes(10));
        var report = volume.Attack();
        Assert.False(report.HasLeak, string.Join("\n", report.Findings));
    }

    [Fact]
    public void ReportsProgressUpToTheTotal()
    {
        using var volume = new TestVolume();
        File.WriteAllBytes(Path.Combine(volume.Tree, "noise"), RandomNumberGenerator.GetBytes(3 << 20));
        var calls = new List<(long Scanned, long Total)>();
        AttackAnalyzer.Run(new AttackOptions(volume.Backing) { Progress = (scanned, total) => calls.Add((scanned, total)) });
        Assert.True(calls.Count >= 3, string.Join(", ", calls));
        Assert.Equal(calls[^1].Total, calls[^1].Scanned);
        Assert.True(calls[^1].Total > 3 << 20);
        Assert.Equal(calls.Select(c => c.Scanned).Order(), calls.Select(c => c.Scanned));
    }

    [Fact]
    public void ABigKnownSetIsSampledAndStillFindsRunsOfTheGuaranteedLength()
    {
        var known = RandomNumberGenerator.GetBytes(10_000);
        var index = new RunIndex(known.Length, maxIndexedWindows: 1000);
        index.AddBytes(known);
        Assert.Equal(25, index.GuaranteedRunLength); // every 10th window
        Assert.InRange(index.IndexedWindows, 990, 1000);
        for (int offset = 3000; offset < 3010; offset++)
        {
            var data = RandomNumberGenerator.GetBytes(1000);
            known.AsSpan(offset, 25).CopyTo(data.AsSpan(500));
            Assert.NotEmpty(index.ScanAll(data));
        }
    }
}

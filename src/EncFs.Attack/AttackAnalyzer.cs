using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EncFs.Core.Format;
using EncFs.Core.Volume;

namespace EncFs.Attack;

/// <summary>What to analyse: the backing directory and what the tester knows.</summary>
public sealed record AttackOptions(string Backing)
{
    /// <summary>The plaintext tree that was written through the mount (its contents and names must not appear).</summary>
    public string? Known { get; init; }

    /// <summary>An older copy of the backing directory, to see what changed between snapshots.</summary>
    public string? Earlier { get; init; }

    /// <summary>A file of hex keys, one per line (DEKs, KEKs, derived keys): none may appear on the medium.</summary>
    public string? KeysFile { get; init; }

    /// <summary>Called after each chunk scanned with (bytes scanned, total bytes).</summary>
    public Action<long, long>? Progress { get; init; }
}

/// <summary>The findings and a summary of what was examined.</summary>
public sealed class AttackReport
{
    public List<Finding> Findings { get; } = [];

    public JsonObject Summary { get; } = [];

    public bool HasLeak => Findings.Any(f => f.IsLeak);

    /// <summary>Whether there was anything to search for leaks with (--known or --keys).</summary>
    public bool SearchedForLeaks { get; set; }
}

/// <summary>
/// The passive attack: reads only what an attacker holding the medium has (the backing
/// directory, optionally an older copy) and reports leaks and what the layout gives away.
/// No console I/O: progress goes to <see cref="AttackOptions.Progress"/>.
/// </summary>
public static class AttackAnalyzer
{
    private const int MaxExamples = 8;

    public static AttackReport Run(AttackOptions options)
    {
        var backing = ValidateVolume(options.Backing, "backing directory", out var header);
        string? earlier = options.Earlier is null ? null : ValidateVolume(options.Earlier, "--earlier copy", out _);
        var report = new AttackReport { SearchedForLeaks = options.Known is not null || options.KeysFile is not null };
        var patterns = new PatternMatcher();
        int keyCount = options.KeysFile is null ? 0 : LoadKeys(options.KeysFile, patterns);
        var (runs, knownFiles, knownNames) = options.Known is null ? (new RunIndex(), new List<string>(), 0) : LoadKnown(options.Known, patterns);

        var errors = new List<string>();
        var entries = TreeWalker.Walk(backing, errors).ToList();
        long total = entries.Where(e => e.IsFile).Sum(e => e.Stat.Size);
        var scan = new ScanState(backing, header.SectorSize, runs, knownFiles, patterns, report, total, options.Progress);
        foreach (var entry in entries)
        {
            scan.Examine(entry);
        }

        foreach (var error in errors)
        {
            report.Findings.Add(new Finding(FindingKinds.Unreadable, Severity.Low, backing, "not examined: " + error));
        }

        Structure(report, backing, header, entries, scan.TreeXattrs);
        if (earlier is not null)
        {
            Snapshots.Compare(report, earlier, backing);
        }

        report.Summary["backing"] = backing;
        report.Summary["earlier"] = earlier;
        report.Summary["known"] = options.Known is null ? null : Path.GetFullPath(options.Known);
        report.Summary["knownFiles"] = knownFiles.Count;
        report.Summary["knownNames"] = knownNames;
        report.Summary["knownRunsIndexed"] = runs.IndexedWindows;
        report.Summary["guaranteedRunLength"] = runs.GuaranteedRunLength;
        report.Summary["keys"] = keyCount;
        report.Summary["bytesScanned"] = scan.Scanned;
        report.Summary["entriesScanned"] = entries.Count;
        report.Summary["sectorsExamined"] = scan.Sectors;
        report.Summary["minSectorEntropy"] = scan.Sectors == 0 ? null : Math.Round(scan.MinEntropy, 4);
        report.Summary["meanSectorEntropy"] = scan.Sectors == 0 ? null : Math.Round(scan.EntropySum / scan.Sectors, 4);
        report.Summary["maxSectorChiSquare"] = scan.Sectors == 0 ? null : Math.Round(scan.MaxChi, 1);
        report.Summary["leak"] = report.HasLeak;
        var counts = new JsonObject();
        foreach (var group in report.Findings.GroupBy(f => f.Severity).OrderByDescending(g => g.Key))
        {
            counts[Name(group.Key)] = group.Count();
        }

        report.Summary["findingsBySeverity"] = counts;
        report.Findings.Sort((a, b) => b.Severity != a.Severity ? b.Severity.CompareTo(a.Severity) : string.CompareOrdinal(a.Path, b.Path));
        return report;
    }

    public static string Name(Severity severity) => severity.ToString().ToLowerInvariant();

    private static string ValidateVolume(string path, string what, out VolumeHeader header)
    {
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new AttackInputException($"{what} '{full}' does not exist or is not a directory");
        }

        if (!VolumeHeaderFile.Exists(full))
        {
            throw new AttackInputException($"{what} '{full}' is not an EncFs volume: it has no efs.volume or efs.volume.bak");
        }

        try
        {
            header = BackingInspector.ReadHeader(full);
        }
        catch (Exception e) when (e is InvalidDataException or UnsupportedFormatException or JsonException or IOException or UnauthorizedAccessException)
        {
            throw new AttackInputException($"{what} '{full}' is not a readable EncFs volume: {e.Message}", e);
        }

        if (!Directory.Exists(Path.Combine(full, EncryptedVolume.TreeDirectory)))
        {
            throw new AttackInputException($"{what} '{full}' is not an EncFs volume: it has no {EncryptedVolume.TreeDirectory}/ directory");
        }

        return full;
    }

    /// <summary>Reads the key file: hex keys, one per line ('#' comments and blank lines allowed).</summary>
    internal static int LoadKeys(string path, PatternMatcher patterns)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AttackInputException($"cannot read the key file '{path}': {e.Message}", e);
        }

        int count = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            byte[] key;
            try
            {
                key = Convert.FromHexString(line);
            }
            catch (FormatException)
            {
                throw new AttackInputException($"key file '{path}' line {i + 1}: not a hex key");
            }

            if (key.Length < 16)
            {
                throw new AttackInputException($"key file '{path}' line {i + 1}: {key.Length} bytes; keys are at least 16 bytes");
            }

            count++;
            string label = $"key #{count} of {Path.GetFileName(path)} ({key.Length} bytes, line {i + 1})";
            AddKeyForms(patterns, key, label);
            if (key.Length == 64)
            {
                AddKeyForms(patterns, key[..32], label + ", first half");
                AddKeyForms(patterns, key[32..], label + ", second half");
            }
        }

        return count;
    }

    private static void AddKeyForms(PatternMatcher patterns, byte[] key, string label)
    {
        var b64 = Convert.ToBase64String(key);
        var forms = new (string Form, byte[] Bytes)[]
        {
            ("raw", key),
            ("hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key))),
            ("HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(key))),
            ("base64", Encoding.ASCII.GetBytes(b64.TrimEnd('='))),
            ("base64url", Encoding.ASCII.GetBytes(b64.TrimEnd('=').Replace('+', '-').Replace('/', '_'))),
        };
        foreach (var group in forms.GroupBy(f => Convert.ToBase64String(f.Bytes)))
        {
            // base64 and base64url coincide when the key has no '+' or '/': one pattern, both names.
            var forms2 = string.Join(" or ", group.Select(f => f.Form));
            patterns.Add(new Pattern(group.First().Bytes, FindingKinds.KeyMaterial, $"{label} as {forms2}", InContents: true));
        }
    }

    private static (RunIndex Runs, List<string> Files, int Names) LoadKnown(string known, PatternMatcher patterns)
    {
        var root = Path.GetFullPath(known);
        if (!Directory.Exists(root))
        {
            throw new AttackInputException($"--known '{root}' does not exist or is not a directory");
        }

        var errors = new List<string>();
        var entries = TreeWalker.Walk(root, errors).ToList();
        if (errors.Count > 0)
        {
            throw new AttackInputException($"--known '{root}' cannot be read: {errors[0]}");
        }

        var runs = new RunIndex(entries.Where(e => e.IsFile).Sum(e => e.Stat.Size));
        var files = new List<string>();
        int names = 0;
        foreach (var entry in entries)
        {
            string what = entry.IsDirectory ? "directory name" : entry.IsSymlink ? "symlink name" : "file name";
            names += AddName(patterns, entry.Name, $"{what} of known/{entry.RelativePath}") ? 1 : 0;
            if (entry.IsSymlink && entry.LinkTarget is not null)
            {
                names += AddName(patterns, entry.LinkTarget, $"symlink target of known/{entry.RelativePath}") ? 1 : 0;
            }

            try
            {
                foreach (var (name, value) in Native.Xattrs(entry.FullPath))
                {
                    var text = Encoding.UTF8.GetString(name);
                    var bare = text.StartsWith("user.", StringComparison.Ordinal) ? text["user.".Length..] : text;
                    names += AddName(patterns, bare, $"xattr name of known/{entry.RelativePath}") ? 1 : 0;
                    names += patterns.Add(new Pattern(value, FindingKinds.NameLeak, $"xattr value of '{text}' on known/{entry.RelativePath}", value.Length >= 8)) ? 1 : 0;
                }
            }
            catch (IOException e)
            {
                throw new AttackInputException($"--known '{entry.FullPath}': {e.Message}", e);
            }

            if (entry.IsFile)
            {
                try
                {
                    runs.AddFile(entry.FullPath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new AttackInputException($"cannot read known file '{entry.FullPath}': {e.Message}", e);
                }

                files.Add(entry.RelativePath);
            }
        }

        return (runs, files, names);
    }

    private static bool AddName(PatternMatcher patterns, string name, string label)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        return patterns.Add(new Pattern(bytes, FindingKinds.NameLeak, $"{label} '{name}'", bytes.Length >= 8));
    }

    private static void Structure(AttackReport report, string backing, VolumeHeader header, List<TreeEntry> entries, int xattrs)
    {
        var tree = Path.Combine(backing, EncryptedVolume.TreeDirectory);
        var inTree = entries.Where(e => e.FullPath.StartsWith(tree + "/", StringComparison.Ordinal)).ToList();
        var files = inTree.Where(e => e.IsFile && e.Name != ".efsdir" && !(e.Name.StartsWith('~') && e.Name.EndsWith(".name", StringComparison.Ordinal))).ToList();
        var dirs = inTree.Where(e => e.IsDirectory).ToList();
        var links = inTree.Where(e => e.IsSymlink).ToList();
        int longNames = inTree.Count(e => e.IsFile && e.Name.StartsWith('~') && e.Name.EndsWith(".name", StringComparison.Ordinal));
        int depth = inTree.Count == 0 ? 0 : inTree.Max(e => e.Depth) - 1; // root/x is one level
        report.Findings.Add(new Finding(FindingKinds.Header, Severity.Info, Path.Combine(backing, VolumeHeaderFile.PrimaryName),
            $"the volume header is plaintext JSON: format version {header.Version}, sector size {header.SectorSize}, scopes: " +
            string.Join("; ", header.Scopes.Select(s => $"'{s.Name}' ({s.State}, key source {s.KeySourceType}, infrastructure layer {(s.InfrastructureEncryption ? "on" : "off")}, DEK generation {s.CurrentGeneration})"))));
        report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
            $"the attacker counts {files.Count} files, {dirs.Count + 1} directories (the root included), {links.Count} symlinks, {longNames} long names; the tree is {depth} level(s) deep"));

        int sector = header.SectorSize;
        var histogram = new SortedDictionary<long, int>();
        foreach (var file in files)
        {
            long stored = Math.Max(0, file.Stat.Size - FileHeader.Size);
            long sectors = FileSectors(file.FullPath, stored, sector);
            long bucket = sectors == 0 ? 0 : 1L << (int)Math.Ceiling(Math.Log2(sectors));
            histogram[bucket] = histogram.GetValueOrDefault(bucket) + 1;
        }

        if (files.Count > 0)
        {
            report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
                $"file sizes are visible rounded up to the sector size ({sector} bytes): " +
                string.Join(", ", histogram.Select(h => $"{h.Value} × {(h.Key == 0 ? "empty" : "≤ " + FormatBytes(h.Key * sector))}"))));
        }

        if (inTree.Count > 0)
        {
            var min = inTree.Min(e => e.Stat.ModifyTime);
            var max = inTree.Max(e => e.Stat.ModifyTime);
            report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
                $"modification times are visible exactly: from {min.UtcDateTime:u} to {max.UtcDateTime:u}"));
            var owners = inTree.GroupBy(e => (e.Stat.Uid, e.Stat.Gid)).OrderByDescending(g => g.Count())
                .Select(g => $"uid {g.Key.Uid} gid {g.Key.Gid}: {g.Count()}");
            var modes = inTree.Select(e => Convert.ToString(e.Stat.Mode & 0xFFF, 8)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
                $"owners are visible: {string.Join("; ", owners)}; permission modes used: {string.Join(", ", modes)}"));
            var nameLengths = inTree.Where(e => !e.Name.StartsWith('.') && !e.Name.EndsWith(".name", StringComparison.Ordinal) && !e.Name.StartsWith('~'))
                .GroupBy(e => Math.Max(16, (e.Name.Length * 3 / 4) - 16)).OrderBy(g => g.Key)
                .Select(g => $"{g.Count()} × {g.Key - 15}..{g.Key} bytes");
            report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
                $"name lengths are visible to 16 bytes: {string.Join(", ", nameLengths)}; {longNames} names are longer than about 175 bytes"));
        }

        int hardLinked = files.Count(f => f.Stat.LinkCount > 1);
        report.Findings.Add(new Finding(FindingKinds.Structure, Severity.Info, tree,
            $"{hardLinked} files have more than one hard link (link counts are visible); {xattrs} extended attributes are stored, their names' lengths visible to 16 bytes and their values' lengths exactly"));
        report.Summary["files"] = files.Count;
        report.Summary["directories"] = dirs.Count + 1;
        report.Summary["symlinks"] = links.Count;
        report.Summary["depth"] = depth;
    }

    /// <summary>How many sectors a backing file stores (the stride read from its header).</summary>
    private static long FileSectors(string path, long stored, int sectorSize)
    {
        int stride = sectorSize;
        try
        {
            using var handle = File.OpenHandle(path);
            Span<byte> head = stackalloc byte[8];
            if (RandomAccess.Read(handle, head, 0) == 8 && head[..4].SequenceEqual("EFSF"u8) && (head[5] & 1) != 0)
            {
                stride = (1 << head[6]) + 28;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return (stored + stride - 1) / stride;
    }

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.#} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    internal static string Preview(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes)
        {
            sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        }

        return sb.ToString();
    }

    internal static string Ranges(IEnumerable<long> sorted, int max = MaxExamples)
    {
        var parts = new List<string>();
        long start = -1, end = -1;
        foreach (var value in sorted)
        {
            if (start >= 0 && value == end + 1)
            {
                end = value;
                continue;
            }

            if (start >= 0)
            {
                parts.Add(start == end ? $"{start}" : $"{start}-{end}");
            }

            start = end = value;
        }

        if (start >= 0)
        {
            parts.Add(start == end ? $"{start}" : $"{start}-{end}");
        }

        return parts.Count > max ? string.Join(", ", parts.Take(max)) + $", … ({parts.Count - max} more ranges)" : string.Join(", ", parts);
    }
}

using System.Text;
using EncFs.Core.Format;
using EncFs.Core.Volume;

namespace EncFs.Attack;

/// <summary>The leak and randomness scan of every backing entry: names, link targets, xattrs and bytes.</summary>
internal sealed class ScanState
{
    private const int ChunkBytes = 1 << 20;
    private const int MaxExamples = 8;
    private static readonly HashSet<string> LayoutNames = ["efs.volume", "efs.volume.bak", "efs.volume.tmp", "efs.lock", "root", ".efsdir"];

    private readonly string _backing;
    private readonly string _tree;
    private readonly int _sectorSize;
    private readonly RunIndex _runs;
    private readonly List<string> _knownFiles;
    private readonly PatternMatcher _patterns;
    private readonly AttackReport _report;
    private readonly long _total;
    private readonly Action<long, long>? _progress;
    private readonly byte[] _buffer;
    private readonly int _carryMax;

    public ScanState(string backing, int sectorSize, RunIndex runs, List<string> knownFiles, PatternMatcher patterns, AttackReport report, long total, Action<long, long>? progress)
    {
        _backing = backing;
        _tree = Path.Combine(backing, EncryptedVolume.TreeDirectory);
        _sectorSize = sectorSize;
        _runs = runs;
        _knownFiles = knownFiles;
        _patterns = patterns;
        _report = report;
        _total = total;
        _progress = progress;
        _carryMax = Math.Max(RunIndex.Window - 1, patterns.MaxLength - 1);
        _buffer = new byte[_carryMax + ChunkBytes + (64 * 1024) + 128];
    }

    public long Scanned { get; private set; }

    /// <summary>Extended attributes on entries of the encrypted tree (their value lengths are visible exactly).</summary>
    public int TreeXattrs { get; private set; }

    public long Sectors { get; private set; }

    public double MinEntropy { get; private set; } = 8;

    public double EntropySum { get; private set; }

    public double MaxChi { get; private set; }

    public void Examine(TreeEntry entry)
    {
        if (!(entry.Depth == 1 && LayoutNames.Contains(entry.Name)) && entry.Name != ".efsdir")
        {
            ScanSmall(entry.FullPath, Encoding.UTF8.GetBytes(entry.Name), "its name");
        }

        if (entry.LinkTarget is not null)
        {
            ScanSmall(entry.FullPath, Encoding.UTF8.GetBytes(entry.LinkTarget), "its symlink target");
        }

        try
        {
            foreach (var (name, value) in Native.Xattrs(entry.FullPath))
            {
                if (entry.FullPath.StartsWith(_tree + "/", StringComparison.Ordinal) || entry.FullPath == _tree)
                {
                    TreeXattrs++;
                }

                var text = Encoding.UTF8.GetString(name);
                ScanSmall(entry.FullPath, name, $"the name of its xattr '{text}'");
                ScanSmall(entry.FullPath, value, $"the value of its xattr '{text}'");
            }
        }
        catch (IOException e)
        {
            _report.Findings.Add(new Finding(FindingKinds.Unreadable, Severity.Low, entry.FullPath, "xattrs not examined: " + e.Message));
        }

        if (entry.IsFile)
        {
            try
            {
                ScanFile(entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _report.Findings.Add(new Finding(FindingKinds.Unreadable, Severity.Low, entry.FullPath, "contents not examined: " + e.Message));
            }
        }
    }

    private void ScanSmall(string path, byte[] data, string where)
    {
        foreach (var match in _runs.ScanAll(data))
        {
            _report.Findings.Add(new Finding(FindingKinds.PlaintextLeak, Severity.Critical, path,
                $"{where} contains a {match.Length}-byte run of known/{_knownFiles[match.Known.Source]} (its offset {match.Known.Offset}): '{AttackAnalyzer.Preview(data.AsSpan((int)match.Offset, match.Length))}'"));
            break;
        }

        foreach (var match in _patterns.ScanAll(data).DistinctBy(m => m.Pattern))
        {
            _report.Findings.Add(new Finding(match.Pattern.Kind, Severity.Critical, path, $"{where} contains {match.Pattern.Label} at offset {match.Offset}"));
        }
    }

    private void ScanFile(TreeEntry entry)
    {
        bool inTree = entry.FullPath.StartsWith(_tree + "/", StringComparison.Ordinal);
        using var stream = new FileStream(entry.FullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        var runHits = new Dictionary<int, (long Count, long Offset, long KnownOffset, string Preview)>();
        var patternHits = new Dictionary<Pattern, (long Count, long Offset)>();
        var low = new List<(long Index, double Entropy)>();
        var chi = new List<(long Index, double Chi)>();
        var holes = new List<long>();
        long sectors = 0;
        bool efsf = false, infra = false;
        int stride = _sectorSize;
        long position = 0;
        int carry = 0;
        while (true)
        {
            int want;
            if (position == 0)
            {
                want = FileHeader.Size;
            }
            else if (efsf)
            {
                want = Math.Max(1, ChunkBytes / stride) * stride;
            }
            else
            {
                want = ChunkBytes;
            }

            int n = stream.ReadAtLeast(_buffer.AsSpan(carry, want), want, throwOnEndOfStream: false);
            if (n == 0)
            {
                break;
            }

            if (position == 0 && n >= 8 && _buffer.AsSpan(carry, 4).SequenceEqual("EFSF"u8) && _buffer[carry + 6] is >= 9 and <= 16)
            {
                efsf = true;
                infra = (_buffer[carry + 5] & 1) != 0;
                stride = (1 << _buffer[carry + 6]) + (infra ? 28 : 0);
            }

            var span = _buffer.AsSpan(0, carry + n);
            long spanStart = position - carry;
            _runs.Scan(span, spanStart, match =>
            {
                var preview = AttackAnalyzer.Preview(_buffer.AsSpan((int)(match.Offset - spanStart), match.Length));
                runHits[match.Known.Source] = runHits.TryGetValue(match.Known.Source, out var hit)
                    ? hit with { Count = hit.Count + 1 }
                    : (1, match.Offset, match.Known.Offset, preview);
            }, skipBefore: Math.Max(0, carry - (RunIndex.Window - 1)));
            _patterns.Scan(span, spanStart, contents: true, match =>
            {
                patternHits[match.Pattern] = patternHits.TryGetValue(match.Pattern, out var hit) ? hit with { Count = hit.Count + 1 } : (1, match.Offset);
            }, carry);

            if (efsf && inTree && position >= FileHeader.Size)
            {
                var data = _buffer.AsSpan(carry, n);
                for (int i = 0; i + stride <= data.Length; i += stride)
                {
                    long index = ((position - FileHeader.Size) / stride) + (i / stride);
                    var stats = SectorStats.Of(data.Slice(i, stride));
                    sectors++;
                    if (stats.AllZero)
                    {
                        holes.Add(index);
                        continue;
                    }

                    Sectors++;
                    EntropySum += stats.Entropy;
                    MinEntropy = Math.Min(MinEntropy, stats.Entropy);
                    MaxChi = Math.Max(MaxChi, stats.ChiSquare);
                    if (stats.LowEntropy)
                    {
                        low.Add((index, stats.Entropy));
                    }
                    else if (stats.ChiSquareOutlier)
                    {
                        chi.Add((index, stats.ChiSquare));
                    }
                }

                if (n % stride != 0)
                {
                    _report.Findings.Add(new Finding(FindingKinds.LowEntropy, Severity.Info, entry.FullPath,
                        $"the stored length is not the 96-byte header plus whole sectors of {stride} bytes ({n % stride} trailing bytes): truncated or damaged"));
                }
            }

            position += n;
            Scanned += n;
            _progress?.Invoke(Scanned, _total);
            carry = Math.Min(_carryMax, span.Length);
            span[^carry..].CopyTo(_buffer);
        }

        foreach (var (source, hit) in runHits)
        {
            _report.Findings.Add(new Finding(FindingKinds.PlaintextLeak, Severity.Critical, entry.FullPath,
                $"{hit.Count} 16-byte run(s) of known/{_knownFiles[source]} in the contents, the first at offset {hit.Offset} (offset {hit.KnownOffset} of the known file): '{hit.Preview}'"));
        }

        var vocabulary = entry.Depth == 1 && entry.Name.StartsWith("efs.volume", StringComparison.Ordinal) ? HeaderVocabulary(entry.FullPath) : null;
        foreach (var (pattern, hit) in patternHits)
        {
            if (pattern.Kind == FindingKinds.NameLeak && vocabulary is not null && vocabulary.Contains(Encoding.UTF8.GetString(pattern.Bytes)))
            {
                continue; // a header word (property name, scope name, key source type) that a known name happens to equal: plaintext by design
            }

            _report.Findings.Add(new Finding(pattern.Kind, Severity.Critical, entry.FullPath,
                $"the contents hold {pattern.Label} {hit.Count} time(s), the first at offset {hit.Offset}"));
        }

        if (inTree && !efsf && entry.Name != ".efsdir" && !(entry.Name.StartsWith('~') && entry.Name.EndsWith(".name", StringComparison.Ordinal)))
        {
            _report.Findings.Add(new Finding(FindingKinds.LowEntropy, Severity.Medium, entry.FullPath,
                "a regular file in the encrypted tree that is not an EncFs file (no EFSF header): planted, or plaintext"));
        }

        if (low.Count > 0)
        {
            _report.Findings.Add(new Finding(FindingKinds.LowEntropy, Severity.High, entry.FullPath,
                $"{low.Count} of {sectors} stored sectors have an entropy below {SectorStats.EntropyThreshold} bits/byte (ciphertext gives about 7.95): " +
                string.Join(", ", low.Take(MaxExamples).Select(l => FormattableString.Invariant($"sector {l.Index}: {l.Entropy:0.00}")))));
        }

        if (chi.Count > 0)
        {
            _report.Findings.Add(new Finding(FindingKinds.LowEntropy, Severity.Low, entry.FullPath,
                $"{chi.Count} of {sectors} stored sectors are chi-square outliers (> {SectorStats.ChiSquareThreshold}, 255 degrees of freedom): " +
                string.Join(", ", chi.Take(MaxExamples).Select(l => FormattableString.Invariant($"sector {l.Index}: {l.Chi:0}")))));
        }

        if (holes.Count > 0)
        {
            _report.Findings.Add(infra
                ? new Finding(FindingKinds.Holes, Severity.Medium, entry.FullPath,
                    $"{holes.Count} of {sectors} stored sectors are all zeros in an infrastructure-layer file, which writes holes encrypted: damage (reads of them fail with EIO); sectors {AttackAnalyzer.Ranges(holes)}")
                : new Finding(FindingKinds.Holes, Severity.Info, entry.FullPath,
                    $"{holes.Count} of {sectors} stored sectors are all zeros (holes): the attacker sees where the file is sparse; sectors {AttackAnalyzer.Ranges(holes)}"));
        }
    }

    /// <summary>Every property name and string value of a volume header's JSON body (empty when it does not parse).</summary>
    private static HashSet<string> HeaderVocabulary(string path)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var text = File.ReadAllText(path);
            int end = text.IndexOf("\n#sha256:", StringComparison.Ordinal);
            Collect(System.Text.Json.Nodes.JsonNode.Parse(end >= 0 ? text[..end] : text), words);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
        }

        return words;
    }

    private static void Collect(System.Text.Json.Nodes.JsonNode? node, HashSet<string> words)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    words.Add(name);
                    Collect(value, words);
                }

                break;
            case System.Text.Json.Nodes.JsonArray array:
                foreach (var item in array)
                {
                    Collect(item, words);
                }

                break;
            case System.Text.Json.Nodes.JsonValue value when value.TryGetValue<string>(out var text):
                words.Add(text);
                break;
        }
    }
}

using System.Text.Json.Nodes;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Volume;

namespace EncFs.Attack;

/// <summary>What <see cref="Tampering.Run"/> needs: the right key and a way to make a foreign volume.</summary>
public sealed record TamperOptions(string Backing, IKeySource KeySource, Action<string, VolumeCreateOptions> CreateForeignVolume)
{
    /// <summary>An older copy of the backing directory: one file is rolled back to its copy there.</summary>
    public string? Earlier { get; init; }

    /// <summary>Where the scratch copies go (default: the system temporary directory).</summary>
    public string? ScratchParent { get; init; }
}

/// <summary>
/// Active tampering on scratch copies: each scenario copies the backing directory afresh,
/// alters it as an attacker with write access to the medium could, opens the copy with the
/// right key through the host-neutral volume API (the code the mount runs) and reports what
/// the reads return. The original backing directory is only read.
/// </summary>
public static class Tampering
{
    public const string Kind = "tamper";

    private const int FileHeaderSize = FileHeader.Size;
    private const int InfrastructureOverhead = 28;

    public static void Run(AttackReport report, TamperOptions options)
    {
        var backing = Path.GetFullPath(options.Backing);
        var scratch = options.ScratchParent is null
            ? Directory.CreateTempSubdirectory("efs-attack-tamper-")
            : Directory.CreateDirectory(Path.Combine(options.ScratchParent, "efs-attack-tamper-" + Guid.NewGuid().ToString("N")));
        var results = new JsonArray();
        try
        {
            var reference = Path.Combine(scratch.FullName, "reference");
            CopyTree(backing, reference);
            var targets = FindTargets(reference, options.KeySource);
            using var context = new Context(report, options, backing, reference, scratch.FullName, results);
            if (targets.Count == 0)
            {
                report.Findings.Add(new Finding(Kind, Severity.Info, backing, "no regular file with at least 2 stored sectors: no sector tampering was possible"));
            }
            else
            {
                var a = targets[0];
                var b = targets.Count > 1 ? targets[1] : null;
                context.Note($"targets: {Describe(a)}" + (b is null ? string.Empty : $"; {Describe(b)}"));
                BitFlip(context, a);
                SwapWithinFile(context, a);
                if (b is not null)
                {
                    SwapBetweenFiles(context, a, b);
                }
                else
                {
                    report.Findings.Add(new Finding(Kind, Severity.Info, Path.Combine(backing, a.Relative), "swap-between-files: skipped, only one file has at least 2 stored sectors"));
                }

                Truncate(context, a);
            }

            if (options.Earlier is not null)
            {
                Rollback(context, Path.GetFullPath(options.Earlier));
            }

            ReplaceHeader(context);
        }
        finally
        {
            try
            {
                scratch.Delete(recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                report.Findings.Add(new Finding(Kind, Severity.Low, scratch.FullName, "the scratch copies could not be removed: " + e.Message));
            }
        }

        report.Summary["tamper"] = results;
        var counts = new JsonObject();
        foreach (var group in report.Findings.GroupBy(f => f.Severity).OrderByDescending(g => g.Key))
        {
            counts[AttackAnalyzer.Name(group.Key)] = group.Count();
        }

        report.Summary["findingsBySeverity"] = counts;
        report.Findings.Sort((x, y) => y.Severity != x.Severity ? y.Severity.CompareTo(x.Severity) : string.CompareOrdinal(x.Path, y.Path));
    }

    /// <summary>A regular EncFs file of the volume: its backing path (relative), plaintext path and layout.</summary>
    internal sealed record Target(string Relative, string PlainPath, long StoredSectors, int SectorSize, bool Infrastructure)
    {
        public int Stride => SectorSize + (Infrastructure ? InfrastructureOverhead : 0);

        public long Offset(long sector) => FileHeaderSize + (sector * Stride);
    }

    private static string Describe(Target t) =>
        $"{t.Relative} (plaintext {t.PlainPath}, {t.StoredSectors} stored sectors of {t.SectorSize} bytes, {(t.Infrastructure ? "infrastructure layer" : "XTS only")})";

    private static void BitFlip(Context context, Target a)
    {
        var copy = context.FreshCopy("bit-flip");
        var path = Path.Combine(copy, a.Relative);
        long position = a.Offset(1) + (a.Stride / 2);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = position;
            int value = stream.ReadByte();
            stream.Position = position;
            stream.WriteByte((byte)(value ^ 0x01));
        }

        context.Report("bit-flip", a, $"flipped bit 0 of byte {position} (stored sector 1)", copy, [(a, 1)], detectableWithoutInfrastructure: false);
    }

    private static void SwapWithinFile(Context context, Target a)
    {
        var copy = context.FreshCopy("swap-within-file");
        var path = Path.Combine(copy, a.Relative);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var first = ReadAt(stream, a.Offset(0), a.Stride);
            var second = ReadAt(stream, a.Offset(1), a.Stride);
            WriteAt(stream, a.Offset(0), second);
            WriteAt(stream, a.Offset(1), first);
        }

        context.Report("swap-within-file", a, "swapped stored sectors 0 and 1", copy, [(a, 0), (a, 1)], detectableWithoutInfrastructure: false);
    }

    private static void SwapBetweenFiles(Context context, Target a, Target b)
    {
        var copy = context.FreshCopy("swap-between-files");
        using (var sa = new FileStream(Path.Combine(copy, a.Relative), FileMode.Open, FileAccess.ReadWrite))
        using (var sb = new FileStream(Path.Combine(copy, b.Relative), FileMode.Open, FileAccess.ReadWrite))
        {
            int length = Math.Min(a.Stride, b.Stride);
            var fromA = ReadAt(sa, a.Offset(0), length);
            var fromB = ReadAt(sb, b.Offset(0), length);
            WriteAt(sa, a.Offset(0), fromB);
            WriteAt(sb, b.Offset(0), fromA);
        }

        context.Report("swap-between-files", a, $"swapped stored sector 0 with stored sector 0 of {b.Relative} ({b.PlainPath})", copy, [(a, 0), (b, 0)], detectableWithoutInfrastructure: false);
    }

    private static void Truncate(Context context, Target a)
    {
        var copy = context.FreshCopy("truncate");
        using (var stream = new FileStream(Path.Combine(copy, a.Relative), FileMode.Open, FileAccess.ReadWrite))
        {
            stream.SetLength(a.Offset(a.StoredSectors - 1));
        }

        context.Report("truncate", a, $"removed the last stored sector ({a.StoredSectors - 1}) of the backing file", copy, [(a, a.StoredSectors - 1)], detectableWithoutInfrastructure: true);
    }

    private static void Rollback(Context context, string earlier)
    {
        const string scenario = "rollback";
        var candidates = FindTargets(context.Reference, context.Options.KeySource, minimumSectors: 1);
        Target? target = null;
        foreach (var candidate in candidates)
        {
            var older = Path.Combine(earlier, candidate.Relative);
            if (File.Exists(older) && !SameBytes(older, Path.Combine(context.Reference, candidate.Relative)))
            {
                target = candidate;
                break;
            }
        }

        if (target is null)
        {
            context.Add(scenario, Severity.Info, context.Backing, "skipped: no regular file differs from its copy in --earlier", "skipped");
            return;
        }

        var copy = context.FreshCopy(scenario);
        File.Copy(Path.Combine(earlier, target.Relative), Path.Combine(copy, target.Relative), overwrite: true);
        string result;
        string? earlierData = null;
        try
        {
            using var olderVolume = OpenVolume(earlier, context.Options.KeySource); // read-only: never written
            earlierData = Hash(olderVolume, target.PlainPath);
        }
        catch (Exception e) when (e is IOException or KeyAccessException or UnauthorizedAccessException)
        {
            earlierData = null;
        }

        string original = Hash(context.OpenReference(), target.PlainPath)!;
        try
        {
            using var volume = OpenVolume(copy, context.Options.KeySource);
            var read = Hash(volume, target.PlainPath);
            result = read == original ? "data: equals the original"
                : earlierData is not null && read == earlierData ? "data: equals the earlier version (rolled back silently)"
                : "data: differs from the original";
        }
        catch (FsException e)
        {
            result = $"error ({e.Errno}): {e.Message}";
        }

        bool detected = result.StartsWith("error", StringComparison.Ordinal);
        var severity = detected ? Severity.Info : Severity.Medium;
        var evidence = $"replaced {target.Relative} ({target.PlainPath}) by its copy in --earlier, header and sectors together; read of the whole file: {result}"
            + (detected ? " — detected" : " — not detected: no state outside the file records its version, with or without the infrastructure layer (docs/THREATS.md)");
        context.Add(scenario, severity, Path.Combine(context.Backing, target.Relative), evidence, result);
    }

    private static void ReplaceHeader(Context context)
    {
        const string scenario = "header-replaced";
        var copy = context.FreshCopy(scenario);
        var foreign = Path.Combine(context.Scratch, "foreign-volume");
        var header = BackingInspector.ReadHeader(context.Reference);
        context.Options.CreateForeignVolume(foreign, new VolumeCreateOptions
        {
            SectorSize = header.SectorSize,
            InfrastructureEncryption = header.GetDefaultScope().InfrastructureEncryption,
        });
        foreach (var name in new[] { VolumeHeaderFile.PrimaryName, VolumeHeaderFile.BackupName })
        {
            var source = Path.Combine(foreign, name);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(copy, name), overwrite: true);
            }
        }

        string result;
        bool refused;
        try
        {
            using var volume = OpenVolume(copy, context.Options.KeySource);
            refused = false;
            result = "opened: the foreign header was accepted with the volume's key";
        }
        catch (Exception e) when (e is IOException or KeyAccessException or InvalidDataException or UnsupportedFormatException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            refused = true;
            result = $"open refused ({e.GetType().Name}): {e.Message}";
        }

        context.Add(scenario, refused ? Severity.Info : Severity.High, Path.Combine(context.Backing, VolumeHeaderFile.PrimaryName),
            $"replaced {VolumeHeaderFile.PrimaryName} and its backup with those of a freshly made volume (random provided key): {result}", refused ? "refused" : "opened");
    }

    /// <summary>The regular EncFs files with at least <paramref name="minimumSectors"/> stored sectors, largest first.</summary>
    internal static List<Target> FindTargets(string copy, IKeySource keySource, int minimumSectors = 2)
    {
        var byInode = new Dictionary<ulong, string>();
        using (var volume = OpenVolume(copy, keySource))
        {
            var pending = new Stack<string>();
            pending.Push("/");
            while (pending.Count > 0)
            {
                var directory = pending.Pop();
                foreach (var entry in volume.ReadDirectory(directory, withStatus: true))
                {
                    var child = directory == "/" ? "/" + entry.Name : directory + "/" + entry.Name;
                    if (entry.Type == FileStatus.Directory)
                    {
                        pending.Push(child);
                    }
                    else if (entry.Type == FileStatus.Regular && entry.Status is { } status)
                    {
                        byInode.TryAdd(status.Inode, child);
                    }
                }
            }
        }

        var targets = new List<(Target Target, long Length)>();
        var root = Path.Combine(copy, EncryptedVolume.TreeDirectory);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is not null || Native.Inode(file) is not { } inode || !byInode.TryGetValue(inode, out var plain))
            {
                continue;
            }

            var header = new byte[FileHeaderSize];
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read))
            {
                if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
                {
                    continue;
                }
            }

            if (!header.AsSpan(0, 4).SequenceEqual("EFSF"u8) || header[6] is < 9 or > 16)
            {
                continue;
            }

            bool infrastructure = (header[5] & 1) != 0;
            int sectorSize = 1 << header[6];
            int stride = sectorSize + (infrastructure ? InfrastructureOverhead : 0);
            long sectors = (info.Length - FileHeaderSize) / stride;
            if (sectors >= minimumSectors)
            {
                targets.Add((new Target(Path.GetRelativePath(copy, file), plain, sectors, sectorSize, infrastructure), info.Length));
            }
        }

        return [.. targets.OrderByDescending(t => t.Length).ThenBy(t => t.Target.Relative, StringComparer.Ordinal).Select(t => t.Target)];
    }

    private static EncryptedVolume OpenVolume(string backing, IKeySource keySource) =>
        EncryptedVolume.Open(backing, keySource, new VolumeOpenOptions { ReadOnly = true });

    private static string CopyOf(Context context, string source, string name)
    {
        var destination = Path.Combine(context.Scratch, name);
        if (Directory.Exists(destination))
        {
            Directory.Delete(destination, recursive: true);
        }

        CopyTree(source, destination);
        return destination;
    }

    /// <summary>Copies directories, regular files and symlinks (not extended attributes: the reads here need none).</summary>
    internal static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo)
            {
                CopyTree(entry.FullName, target);
            }
            else if (entry.Name != "efs.lock")
            {
                File.Copy(entry.FullName, target);
            }
        }
    }

    private static byte[] ReadAt(FileStream stream, long offset, int length)
    {
        var buffer = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(buffer);
        return buffer;
    }

    private static void WriteAt(FileStream stream, long offset, byte[] data)
    {
        stream.Position = offset;
        stream.Write(data);
    }

    private static bool SameBytes(string a, string b)
    {
        using var sa = new FileStream(a, FileMode.Open, FileAccess.Read);
        using var sb = new FileStream(b, FileMode.Open, FileAccess.Read);
        if (sa.Length != sb.Length)
        {
            return false;
        }

        var ba = new byte[1 << 16];
        var bb = new byte[1 << 16];
        int read;
        while ((read = sa.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false)) > 0)
        {
            if (sb.ReadAtLeast(bb, read, throwOnEndOfStream: false) != read || !ba.AsSpan(0, read).SequenceEqual(bb.AsSpan(0, read)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>SHA-256 of a whole plaintext file read through the volume (throws FsException on a failed read).</summary>
    private static string Hash(EncryptedVolume volume, string plainPath)
    {
        using var handle = volume.OpenFile(plainPath, FileAccess.Read);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long offset = 0;
        int read;
        while ((read = handle.Read(offset, buffer)) > 0)
        {
            sha.AppendData(buffer, 0, read);
            offset += read;
        }

        return Convert.ToHexString(sha.GetHashAndReset()) + ":" + offset.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class Context(AttackReport report, TamperOptions options, string backing, string reference, string scratch, JsonArray results) : IDisposable
    {
        private EncryptedVolume? _reference;
        private string? _lastCopy;

        public void Dispose() => _reference?.Dispose();

        public TamperOptions Options => options;

        public string Backing => backing;

        public string Reference => reference;

        public string Scratch => scratch;

        public EncryptedVolume OpenReference() => _reference ??= OpenVolume(reference, options.KeySource);

        /// <summary>A fresh copy of the untouched reference; the previous scenario's copy is removed first (space: twice the backing directory).</summary>
        public string FreshCopy(string scenario)
        {
            if (_lastCopy is not null && Directory.Exists(_lastCopy))
            {
                Directory.Delete(_lastCopy, recursive: true);
            }

            _lastCopy = CopyOf(this, reference, "copy-" + scenario);
            return _lastCopy;
        }

        public void Note(string text) => report.Findings.Add(new Finding(Kind, Severity.Info, backing, text));

        public void Add(string scenario, Severity severity, string path, string evidence, string result)
        {
            report.Findings.Add(new Finding(Kind, severity, path, $"[{scenario}] {evidence}"));
            results.Add(new JsonObject
            {
                ["scenario"] = scenario,
                ["severity"] = AttackAnalyzer.Name(severity),
                ["path"] = path,
                ["result"] = result,
            });
        }

        /// <summary>Opens the tampered copy, reads each (file, sector) and compares it with the untouched reference.</summary>
        public void Report(string scenario, Target primary, string what, string copy, (Target File, long Sector)[] reads, bool detectableWithoutInfrastructure)
        {
            var outcomes = new List<string>();
            string? firstResult = null;
            bool allDetected = true;
            try
            {
                using var volume = OpenVolume(copy, options.KeySource);
                foreach (var (file, sector) in reads)
                {
                    var outcome = ReadSector(volume, file, sector);
                    firstResult ??= ShortResult(outcome);
                    allDetected &= outcome.StartsWith("error", StringComparison.Ordinal);
                    outcomes.Add($"{file.PlainPath} sector {sector}: {outcome}");
                }
            }
            catch (Exception e) when (e is IOException or KeyAccessException or InvalidDataException)
            {
                outcomes.Add($"open failed: {e.Message}");
                firstResult ??= "error (open failed)";
            }

            var summary = string.Join("; ", outcomes);
            Severity severity;
            string verdict;
            if (allDetected)
            {
                severity = Severity.Info;
                verdict = "detected";
            }
            else if (primary.Infrastructure || detectableWithoutInfrastructure)
            {
                severity = Severity.High;
                verdict = primary.Infrastructure
                    ? "NOT detected although the infrastructure layer is on: a bug"
                    : "NOT detected although this is authenticated without the infrastructure layer: a bug";
            }
            else
            {
                severity = Severity.Medium;
                verdict = "not detected: AES-XTS alone has no authentication (docs/THREATS.md)";
            }

            Add(scenario, severity, Path.Combine(backing, primary.Relative), $"{what} in {primary.Relative} ({primary.PlainPath}); reads: {summary} — {verdict}", firstResult ?? "none");
        }

        private string ReadSector(EncryptedVolume volume, Target file, long sector)
        {
            var original = new byte[file.SectorSize];
            int originalLength;
            using (var handle = OpenReference().OpenFile(file.PlainPath, FileAccess.Read))
            {
                originalLength = ReadFully(handle, sector * file.SectorSize, original);
            }

            var data = new byte[file.SectorSize];
            int length;
            try
            {
                using var handle = volume.OpenFile(file.PlainPath, FileAccess.Read);
                length = ReadFully(handle, sector * file.SectorSize, data);
            }
            catch (FsException e)
            {
                return $"error ({e.Errno}) {e.Message}";
            }

            var got = data.AsSpan(0, length);
            if (got.SequenceEqual(original.AsSpan(0, originalLength)))
            {
                return "data: equals the original";
            }

            if (length > 0 && !got.ContainsAnyExcept((byte)0))
            {
                return "data: zeros";
            }

            int differing = 0;
            for (int i = 0; i < Math.Min(length, originalLength); i++)
            {
                differing += got[i] != original[i] ? 1 : 0;
            }

            return FormattableString.Invariant($"data: differs from the original ({differing} of {Math.Min(length, originalLength)} bytes differ, {length} bytes returned)");
        }

        private static int ReadFully(FileHandle handle, long offset, byte[] buffer)
        {
            int total = 0;
            int read;
            while (total < buffer.Length && (read = handle.Read(offset + total, buffer.AsSpan(total))) > 0)
            {
                total += read;
            }

            return total;
        }

        private static string ShortResult(string result) =>
            result.StartsWith("error", StringComparison.Ordinal) ? result[..(result.IndexOf(')', StringComparison.Ordinal) + 1)]
            : result.StartsWith("data: differs", StringComparison.Ordinal) ? "data: differs from the original"
            : result;
    }
}

using System.Text;
using EncFs.Core.Format;
using EncFs.Core.Volume;

namespace EncFs.Attack;

/// <summary>What two copies of the medium taken at different times tell: which entries and sectors changed.</summary>
internal static class Snapshots
{
    private const int ChunkBytes = 1 << 20;

    public static void Compare(AttackReport report, string earlier, string current)
    {
        var before = new Dictionary<string, TreeEntry>(StringComparer.Ordinal);
        foreach (var entry in TreeWalker.Walk(earlier))
        {
            before[entry.RelativePath] = entry;
        }

        int added = 0, removed = 0, changed = 0, unchanged = 0;
        foreach (var entry in TreeWalker.Walk(current))
        {
            bool metadata = !entry.RelativePath.StartsWith(EncryptedVolume.TreeDirectory + "/", StringComparison.Ordinal);
            if (!before.Remove(entry.RelativePath, out var old))
            {
                if (!metadata)
                {
                    added++;
                }

                report.Findings.Add(new Finding(metadata ? FindingKinds.SnapshotMetadata : FindingKinds.SnapshotAdded, metadata ? Severity.Info : Severity.Low, entry.FullPath,
                    $"a {Describe(entry)} that the earlier copy does not have: it was created since"));
                continue;
            }

            var differences = Differences(old, entry);
            if (differences.Count == 0)
            {
                unchanged++;
                continue;
            }

            if (!metadata)
            {
                changed++;
            }

            report.Findings.Add(new Finding(metadata ? FindingKinds.SnapshotMetadata : FindingKinds.SnapshotChanged, metadata ? Severity.Info : Severity.Low, entry.FullPath,
                $"{Describe(entry)} changed since the earlier copy: " + string.Join("; ", differences)));
        }

        foreach (var (relative, entry) in before.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            bool metadata = !relative.StartsWith(EncryptedVolume.TreeDirectory + "/", StringComparison.Ordinal);
            if (!metadata)
            {
                removed++;
            }

            report.Findings.Add(new Finding(metadata ? FindingKinds.SnapshotMetadata : FindingKinds.SnapshotRemoved, metadata ? Severity.Info : Severity.Low, entry.FullPath,
                $"a {Describe(entry)} of the earlier copy that is gone: it was deleted or renamed since"));
        }

        report.Summary["snapshotAdded"] = added;
        report.Summary["snapshotRemoved"] = removed;
        report.Summary["snapshotChanged"] = changed;
        report.Summary["snapshotUnchanged"] = unchanged;
    }

    private static string Describe(TreeEntry entry) =>
        entry.IsDirectory ? "directory" : entry.IsSymlink ? "symlink" : entry.Name == DirectoryRecord.FileName ? "directory record" : entry.IsFile ? "file" : "special file";

    private static List<string> Differences(TreeEntry old, TreeEntry now)
    {
        var result = new List<string>();
        if (old.Stat.Type != now.Stat.Type)
        {
            result.Add("its type changed");
            return result;
        }

        if (old.IsSymlink && old.LinkTarget != now.LinkTarget)
        {
            result.Add("its (encrypted) target changed");
        }

        if ((old.Stat.Mode & 0xFFF) != (now.Stat.Mode & 0xFFF) || old.Stat.Uid != now.Stat.Uid || old.Stat.Gid != now.Stat.Gid)
        {
            result.Add("its owner or permissions changed");
        }

        if (!SameXattrs(old.FullPath, now.FullPath))
        {
            result.Add("its extended attributes changed");
        }

        if (old.IsFile)
        {
            var content = CompareContents(old.FullPath, now.FullPath);
            if (content is not null)
            {
                result.Add(content);
            }
        }

        return result;
    }

    private static bool SameXattrs(string a, string b)
    {
        try
        {
            static string Key(List<(byte[] Name, byte[] Value)> list) =>
                string.Join("\n", list.Select(x => Convert.ToBase64String(x.Name) + "=" + Convert.ToBase64String(x.Value)).Order(StringComparer.Ordinal));
            return Key(Native.Xattrs(a)) == Key(Native.Xattrs(b));
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Null when the bytes are equal; otherwise what changed, per sector for EncFs files.</summary>
    private static string? CompareContents(string oldPath, string newPath)
    {
        using var a = new FileStream(oldPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        using var b = new FileStream(newPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        var headA = new byte[FileHeader.Size];
        var headB = new byte[FileHeader.Size];
        int na = a.ReadAtLeast(headA, headA.Length, throwOnEndOfStream: false);
        int nb = b.ReadAtLeast(headB, headB.Length, throwOnEndOfStream: false);
        bool efsf = na == FileHeader.Size && nb == FileHeader.Size && headA.AsSpan(0, 4).SequenceEqual("EFSF"u8) && headB.AsSpan(0, 4).SequenceEqual("EFSF"u8)
            && headA[6] == headB[6] && headA[5] == headB[5] && headA[6] is >= 9 and <= 16;
        if (!efsf)
        {
            bool same = na == nb && headA.AsSpan(0, na).SequenceEqual(headB.AsSpan(0, nb)) && SameRest(a, b);
            return same ? null : $"its contents changed ({a.Length} → {b.Length} bytes)";
        }

        bool infra = (headA[5] & 1) != 0;
        int stride = (1 << headA[6]) + (infra ? 28 : 0);
        bool headerChanged = !headA.AsSpan().SequenceEqual(headB);
        bool idChanged = !headA.AsSpan(8, 16).SequenceEqual(headB.AsSpan(8, 16));
        var bufA = new byte[Math.Max(1, ChunkBytes / stride) * stride];
        var bufB = new byte[bufA.Length];
        var changedSectors = new List<long>();
        long sameSectors = 0, sectorsA = 0, sectorsB = 0, index = 0;
        while (true)
        {
            int ra = a.ReadAtLeast(bufA, bufA.Length, throwOnEndOfStream: false);
            int rb = b.ReadAtLeast(bufB, bufB.Length, throwOnEndOfStream: false);
            if (ra == 0 && rb == 0)
            {
                break;
            }

            int count = (Math.Max(ra, rb) + stride - 1) / stride;
            for (int i = 0; i < count; i++, index++)
            {
                int offset = i * stride;
                int la = Math.Clamp(ra - offset, 0, stride), lb = Math.Clamp(rb - offset, 0, stride);
                sectorsA += la > 0 ? 1 : 0;
                sectorsB += lb > 0 ? 1 : 0;
                if (la > 0 && lb > 0)
                {
                    if (la == lb && bufA.AsSpan(offset, la).SequenceEqual(bufB.AsSpan(offset, lb)))
                    {
                        sameSectors++;
                    }
                    else
                    {
                        changedSectors.Add(index);
                    }
                }
            }
        }

        if (!headerChanged && changedSectors.Count == 0 && sectorsA == sectorsB)
        {
            return null;
        }

        var text = new StringBuilder();
        if (idChanged)
        {
            text.Append("a different file id (the file was replaced by a new one); ");
        }
        else if (headerChanged)
        {
            text.Append("its header was rewritten (the encrypted size was re-sealed); ");
        }

        if (sectorsA != sectorsB)
        {
            text.Append($"{sectorsA} → {sectorsB} stored sectors (the size changed, to the sector); ");
        }

        text.Append(changedSectors.Count == 0 ? "no stored sector changed" : $"{changedSectors.Count} sector(s) changed: {AttackAnalyzer.Ranges(changedSectors)}");
        text.Append($"; {sameSectors} sector(s) kept their exact earlier bytes");
        text.Append(infra
            ? ". With the infrastructure layer every write draws a fresh nonce: a changed sector shows that it was rewritten, an unchanged one that it was not"
            : ". AES-XTS is deterministic per file key and sector: an unchanged sector holds the same plaintext as before, and a sector rewritten with an earlier content shows its earlier ciphertext again, so snapshots reveal when a sector returns to an earlier content");
        return text.ToString();
    }

    private static bool SameRest(Stream a, Stream b)
    {
        var bufA = new byte[ChunkBytes];
        var bufB = new byte[ChunkBytes];
        while (true)
        {
            int ra = a.ReadAtLeast(bufA, bufA.Length, throwOnEndOfStream: false);
            int rb = b.ReadAtLeast(bufB, bufB.Length, throwOnEndOfStream: false);
            if (ra != rb || !bufA.AsSpan(0, ra).SequenceEqual(bufB.AsSpan(0, rb)))
            {
                return false;
            }

            if (ra == 0)
            {
                return true;
            }
        }
    }
}

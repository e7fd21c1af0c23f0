using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Support;

public enum BackingKind
{
    File,
    Directory,
    Symlink,
    Other,
}

/// <summary>One entry of a backing directory as an attacker holding the medium sees it.</summary>
public sealed record BackingEntry(string RelativePath, BackingKind Kind, byte[] Content, string? LinkTarget, IReadOnlyDictionary<string, byte[]> Xattrs)
{
    public string Name => Path.GetFileName(RelativePath);
}

/// <summary>Looks at the backing directory from outside the volume.</summary>
public static class BackingView
{
    public const int FileHeaderSize = 96;
    public const int SealOverhead = 28;

    /// <summary>The names directly inside a backing directory, sorted.</summary>
    public static string[] ListNames(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)];

    /// <summary>Every entry under <paramref name="root"/> (not following symlinks), with contents and xattrs.</summary>
    public static List<BackingEntry> Entries(string root)
    {
        var result = new List<BackingEntry>();
        Walk(root, root, result);
        result.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return result;
    }

    /// <summary>Names, kinds, bytes, link targets and xattrs of everything: equal snapshots mean nothing changed.</summary>
    public static SortedDictionary<string, string> Snapshot(string root)
    {
        var snapshot = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Entries(root))
        {
            var text = new StringBuilder();
            text.Append(entry.Kind).Append(' ');
            text.Append(entry.Kind == BackingKind.Symlink ? entry.LinkTarget : Convert.ToHexString(entry.Content));
            foreach (var (name, value) in entry.Xattrs.OrderBy(x => x.Key, StringComparer.Ordinal))
            {
                text.Append(" xattr ").Append(name).Append('=').Append(Convert.ToHexString(value));
            }

            snapshot[entry.RelativePath] = text.ToString();
        }

        return snapshot;
    }

    /// <summary>The backing entry of a plaintext path, found by inode (the volume reports backing inodes).</summary>
    public static string FileOf(EncryptedVolume volume, string plaintextPath)
    {
        var inode = volume.GetStatus(plaintextPath).Inode;
        var tree = Path.Combine(volume.BackingDirectory, EncryptedVolume.TreeDirectory);
        var matches = Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories)
            .Where(p => BackingFs.TryStat(p, out var s) && s.Inode == inode)
            .ToList();
        return Assert.Single(matches);
    }

    /// <summary>docs/FORMAT.md section 4: 96 + ceil(size / S) * stride, computed here independently.</summary>
    public static long ExpectedLength(long size, int sectorSize, bool infrastructure)
    {
        long sectors = (size + sectorSize - 1) / sectorSize;
        return FileHeaderSize + (sectors * (infrastructure ? sectorSize + SealOverhead : sectorSize));
    }

    public static void AssertLength(EncryptedVolume volume, string plaintextPath, long size, int sectorSize, bool infrastructure) =>
        Assert.Equal(ExpectedLength(size, sectorSize, infrastructure), new FileInfo(FileOf(volume, plaintextPath)).Length);

    public static void FlipBit(string path, long offset, int bit = 0)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        int value = stream.ReadByte();
        Assert.True(value >= 0, $"offset {offset} is past the end of '{path}'");
        stream.Position = offset;
        stream.WriteByte((byte)(value ^ (1 << bit)));
    }

    public static byte[] ReadRange(string path, long offset, int count)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        stream.Position = offset;
        var buffer = new byte[count];
        stream.ReadExactly(buffer);
        return buffer;
    }

    public static void WriteRange(string path, long offset, ReadOnlySpan<byte> data)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        stream.Write(data);
    }

    /// <summary>
    /// Reads a file with plain open(2)/pread(2): a FileStream would take flock(LOCK_SH), which
    /// efs.lock refuses while a volume is open.
    /// </summary>
    private static byte[] ReadShared(string path)
    {
        using var handle = BackingFs.Open(path, Libc.O_RDONLY);
        var bytes = new byte[BackingFs.Stat(handle).Size];
        Assert.Equal(bytes.Length, BackingFs.ReadAt(handle, bytes, 0));
        return bytes;
    }

    private static void Walk(string root, string directory, List<BackingEntry> result)
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(directory))
        {
            var info = new FileInfo(path);
            var relative = Path.GetRelativePath(root, path);
            var status = BackingFs.Stat(path);
            var kind = status.IsSymlink ? BackingKind.Symlink
                : status.IsDirectory ? BackingKind.Directory
                : status.IsRegular ? BackingKind.File
                : BackingKind.Other;
            var xattrs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            if (kind is BackingKind.File or BackingKind.Directory)
            {
                foreach (var name in NativeXattr.List(path))
                {
                    xattrs[name] = NativeXattr.Get(path, name);
                }
            }

            result.Add(new BackingEntry(
                relative,
                kind,
                kind == BackingKind.File ? ReadShared(path) : [],
                kind == BackingKind.Symlink ? info.LinkTarget : null,
                xattrs));
            if (kind == BackingKind.Directory)
            {
                Walk(root, path, result);
            }
        }
    }
}

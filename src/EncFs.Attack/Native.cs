using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace EncFs.Attack;

/// <summary>What lstat tells an attacker about one entry.</summary>
public readonly record struct EntryStat(uint Mode, uint Uid, uint Gid, long Size, long Blocks, DateTimeOffset ModifyTime, uint LinkCount = 1)
{
    public const uint TypeMask = 0xF000, Directory = 0x4000, Regular = 0x8000, Symlink = 0xA000;

    public uint Type => Mode & TypeMask;
}

/// <summary>statx and the xattr calls .NET does not expose; none follows symlinks.</summary>
internal static partial class Native
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int ENODATA = 61, ERANGE = 34, ENOTSUP = 95;

    public static unsafe EntryStat Stat(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            throw new IOException($"cannot stat '{path}': errno {Marshal.GetLastPInvokeError()}");
        }

        var span = new ReadOnlySpan<byte>(buffer, 256);
        long mtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(span[112..]);
        return new EntryStat(
            BinaryPrimitives.ReadUInt16LittleEndian(span[28..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(span[40..]),
            BinaryPrimitives.ReadInt64LittleEndian(span[48..]),
            DateTimeOffset.FromUnixTimeSeconds(mtimeSeconds),
            BinaryPrimitives.ReadUInt32LittleEndian(span[16..]));
    }

    /// <summary>The inode number of an entry (symlinks not followed), or null when it cannot be stat'ed.</summary>
    public static unsafe ulong? Inode(string path)
    {
        byte* buffer = stackalloc byte[256];
        return Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0
            ? null
            : BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(buffer, 256)[32..]);
    }

    /// <summary>Every extended attribute of an entry (names as raw bytes, values), symlinks not followed.</summary>
    public static unsafe List<(byte[] Name, byte[] Value)> Xattrs(string path)
    {
        var result = new List<(byte[], byte[])>();
        nint size = Llistxattr(path, null, 0);
        if (size <= 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (size == 0 || errno == ENOTSUP)
            {
                return result;
            }

            throw new IOException($"cannot list the extended attributes of '{path}': errno {errno}");
        }

        var list = new byte[size + 256];
        nint n;
        fixed (byte* p = list)
        {
            n = Llistxattr(path, p, list.Length);
        }

        if (n < 0)
        {
            throw new IOException($"cannot list the extended attributes of '{path}': errno {Marshal.GetLastPInvokeError()}");
        }

        foreach (var range in list.AsSpan(0, (int)n).Split((byte)0))
        {
            var name = list.AsSpan(range).ToArray();
            if (name.Length == 0)
            {
                continue;
            }

            var value = GetXattr(path, Encoding.UTF8.GetString(name));
            if (value is not null)
            {
                result.Add((name, value));
            }
        }

        return result;
    }

    private static unsafe byte[]? GetXattr(string path, string name)
    {
        while (true)
        {
            nint size = Lgetxattr(path, name, null, 0);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno == ENODATA ? null : throw new IOException($"cannot read extended attribute '{name}' of '{path}': errno {errno}");
            }

            var value = new byte[size];
            fixed (byte* p = value)
            {
                nint n = Lgetxattr(path, name, p, value.Length);
                if (n >= 0)
                {
                    return value[..(int)n];
                }

                if (Marshal.GetLastPInvokeError() != ERANGE)
                {
                    throw new IOException($"cannot read extended attribute '{name}' of '{path}'");
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint Llistxattr(string path, byte* list, nint size);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint Lgetxattr(string path, string name, byte* value, nint size);
}

/// <summary>One entry of a walked tree, symlinks not followed.</summary>
public sealed record TreeEntry(string FullPath, string RelativePath, string Name, int Depth, EntryStat Stat, string? LinkTarget)
{
    public bool IsDirectory => Stat.Type == EntryStat.Directory;

    public bool IsFile => Stat.Type == EntryStat.Regular;

    public bool IsSymlink => Stat.Type == EntryStat.Symlink;
}

/// <summary>Walks a directory tree depth first without following symlinks.</summary>
public static class TreeWalker
{
    /// <summary>Entries below <paramref name="root"/> (not the root itself); unreadable directories go to <paramref name="errors"/>.</summary>
    public static IEnumerable<TreeEntry> Walk(string root, List<string>? errors = null)
    {
        var stack = new Stack<(string Path, int Depth)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (dir, depth) = stack.Pop();
            string[] children;
            try
            {
                children = Directory.GetFileSystemEntries(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors?.Add($"{dir}: {e.Message}");
                continue;
            }

            Array.Sort(children, StringComparer.Ordinal);
            foreach (var child in children)
            {
                EntryStat stat;
                try
                {
                    stat = Native.Stat(child);
                }
                catch (IOException e)
                {
                    errors?.Add(e.Message);
                    continue;
                }

                string? target = null;
                if (stat.Type == EntryStat.Symlink)
                {
                    target = new FileInfo(child).LinkTarget;
                }

                yield return new TreeEntry(child, Path.GetRelativePath(root, child), Path.GetFileName(child), depth + 1, stat, target);
                if (stat.Type == EntryStat.Directory)
                {
                    stack.Push((child, depth + 1));
                }
            }
        }
    }
}

using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Fuse.Tests.Support;

/// <summary>The syscalls .NET has no API for: renameat2, lseek with SEEK_DATA/SEEK_HOLE, xattrs, fsync of a directory.</summary>
public static partial class Sys
{
    public const int AT_FDCWD = -100;
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
    public const int SEEK_DATA = 3, SEEK_HOLE = 4;
    public const int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public const int EEXIST = 17, ENXIO = 6, ENODATA = 61, ENOTCONN = 107, ENOSPC = 28;
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;

    /// <summary>renameat2(2); returns 0 or the errno.</summary>
    public static int Rename2(string from, string to, uint flags) =>
        Renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>lseek(2) on an open file; returns the offset or minus the errno.</summary>
    public static long Seek(SafeFileHandle handle, long offset, int whence)
    {
        long result = LseekNative(handle, offset, whence);
        return result >= 0 ? result : -Marshal.GetLastPInvokeError();
    }

    /// <summary>fsync(2) of a directory: makes its entries durable.</summary>
    public static void SyncDirectory(string path)
    {
        int fd = Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"open {path}: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync {path}: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>setxattr(2) (lsetxattr: never follows a symlink); returns 0 or the errno.</summary>
    public static int SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags) =>
        Lsetxattr(path, name, value, (nuint)value.Length, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>lgetxattr(2): the value, or null with the errno.</summary>
    public static byte[]? GetXattr(string path, string name, out int errno)
    {
        errno = 0;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            nint size = Lgetxattr(path, name, [], 0);
            if (size < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }

            var buffer = new byte[size];
            nint read = Lgetxattr(path, name, buffer, (nuint)buffer.Length);
            if (read >= 0)
            {
                return buffer[..(int)read];
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno != 34)
            {
                return null; // not ERANGE: the value did not just grow
            }
        }

        return null;
    }

    /// <summary>llistxattr(2): the names of an entry's extended attributes.</summary>
    public static IReadOnlyList<string> ListXattrs(string path)
    {
        nint size = Llistxattr(path, [], 0);
        if (size <= 0)
        {
            return [];
        }

        var buffer = new byte[size];
        nint read = Llistxattr(path, buffer, (nuint)buffer.Length);
        if (read <= 0)
        {
            return [];
        }

        return Encoding.UTF8.GetString(buffer, 0, (int)read).Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Renameat2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LseekNative(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Lsetxattr(string path, string name, ReadOnlySpan<byte> value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Lgetxattr(string path, string name, Span<byte> value, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Llistxattr(string path, Span<byte> list, nuint size);
}

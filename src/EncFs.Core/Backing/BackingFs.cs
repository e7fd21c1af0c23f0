using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Backing;

/// <summary>
/// The backing filesystem: thin wrappers over libc that throw <see cref="FsException"/> with the
/// errno and the path. Paths here are backing paths, never plaintext.
/// </summary>
public static class BackingFs
{
    public static unsafe FileStatus Stat(string path)
    {
        Libc.StatxBuffer buffer;
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &buffer) != 0)
        {
            throw FsException.FromLastError("stat", path);
        }

        return ToStatus(buffer);
    }

    public static unsafe bool TryStat(string path, out FileStatus status)
    {
        Libc.StatxBuffer buffer;
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &buffer) != 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            if (errno is Errno.ENOENT or Errno.ENOTDIR)
            {
                status = default;
                return false;
            }

            throw new FsException(errno, $"stat '{path}': {FsException.Describe(errno)}");
        }

        status = ToStatus(buffer);
        return true;
    }

    public static unsafe FileStatus Stat(SafeFileHandle handle)
    {
        Libc.StatxBuffer buffer;
        if (Libc.Statx((int)handle.DangerousGetHandle(), string.Empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &buffer) != 0)
        {
            throw FsException.FromLastError("fstat", "<handle>");
        }

        return ToStatus(buffer);
    }

    public static SafeFileHandle Open(string path, int flags, uint mode = 0)
    {
        int fd = Libc.Open(path, flags | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, mode);
        if (fd < 0)
        {
            throw FsException.FromLastError("open", path);
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Opens <paramref name="name"/> inside the directory <paramref name="directory"/> refers to,
    /// never following a symlink: what a later rename of that directory's path does cannot redirect it.
    /// </summary>
    public static SafeFileHandle OpenAt(SafeFileHandle directory, string name, int flags, uint mode = 0)
    {
        int fd = Libc.Openat((int)directory.DangerousGetHandle(), name, flags | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, mode);
        if (fd < 0)
        {
            throw FsException.FromLastError("openat", name);
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>lstat of <paramref name="name"/> inside <paramref name="directory"/>; false when it is not there.</summary>
    public static unsafe bool TryStatAt(SafeFileHandle directory, string name, out FileStatus status)
    {
        Libc.StatxBuffer buffer;
        if (Libc.Statx((int)directory.DangerousGetHandle(), name, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &buffer) != 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            if (errno is Errno.ENOENT or Errno.ENOTDIR)
            {
                status = default;
                return false;
            }

            throw new FsException(errno, $"stat '{name}': {FsException.Describe(errno)}");
        }

        status = ToStatus(buffer);
        return true;
    }

    public static void UnlinkAt(SafeFileHandle directory, string name, bool isDirectory = false) =>
        Check(Libc.Unlinkat((int)directory.DangerousGetHandle(), name, isDirectory ? Libc.AT_REMOVEDIR : 0), isDirectory ? "rmdir" : "unlink", name);

    public static void RenameAt(SafeFileHandle directory, string oldName, string newName, uint flags = 0) =>
        Check(Libc.Renameat2((int)directory.DangerousGetHandle(), oldName, (int)directory.DangerousGetHandle(), newName, flags), "rename", oldName);

    public static unsafe string ReadLinkAt(SafeFileHandle directory, string name)
    {
        Span<byte> buffer = stackalloc byte[8192];
        fixed (byte* p = buffer)
        {
            nint n = Libc.Readlinkat((int)directory.DangerousGetHandle(), name, p, buffer.Length);
            if (n < 0)
            {
                throw FsException.FromLastError("readlink", name);
            }

            return System.Text.Encoding.UTF8.GetString(buffer[..(int)n]);
        }
    }

    /// <summary>flock(LOCK_EX | LOCK_NB): false when another open file description holds the lock.</summary>
    public static bool TryLockExclusive(SafeFileHandle handle)
    {
        if (Libc.Flock((int)handle.DangerousGetHandle(), Libc.LOCK_EX | Libc.LOCK_NB) == 0)
        {
            return true;
        }

        var errno = (Errno)Marshal.GetLastPInvokeError();
        return errno == Errno.EAGAIN ? false : throw new FsException(errno, $"flock: {FsException.Describe(errno)}");
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file; returns the bytes read.</summary>
    public static unsafe int ReadAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = Libc.Pread((int)handle.DangerousGetHandle(), p + total, buffer.Length - total, offset + total);
                if (n < 0)
                {
                    if ((Errno)Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }

                    throw FsException.FromLastError("read", "<handle>");
                }

                if (n == 0)
                {
                    break;
                }

                total += (int)n;
            }
        }

        return total;
    }

    /// <summary>Writes all of <paramref name="data"/>; ENOSPC and other errors surface with their errno.</summary>
    public static unsafe void WriteAt(SafeFileHandle handle, ReadOnlySpan<byte> data, long offset)
    {
        int total = 0;
        fixed (byte* p = data)
        {
            while (total < data.Length)
            {
                nint n = Libc.Pwrite((int)handle.DangerousGetHandle(), p + total, data.Length - total, offset + total);
                if (n < 0)
                {
                    if ((Errno)Marshal.GetLastPInvokeError() == Errno.EINTR)
                    {
                        continue;
                    }

                    throw FsException.FromLastError("write", "<handle>");
                }

                total += (int)n;
            }
        }
    }

    public static void Fsync(SafeFileHandle handle, bool dataOnly = false)
    {
        int fd = (int)handle.DangerousGetHandle();
        if ((dataOnly ? Libc.Fdatasync(fd) : Libc.Fsync(fd)) != 0)
        {
            throw FsException.FromLastError("fsync", "<handle>");
        }
    }

    /// <summary>syncfs(2): everything written to the filesystem holding <paramref name="path"/> reaches the disk.</summary>
    public static void SyncFileSystem(string path)
    {
        using var handle = Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY);
        if (Libc.Syncfs((int)handle.DangerousGetHandle()) != 0)
        {
            throw FsException.FromLastError("syncfs", path);
        }
    }

    public static void FsyncDirectory(string path)
    {
        using var handle = Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY);
        Fsync(handle);
    }

    public static void Truncate(SafeFileHandle handle, long length)
    {
        if (Libc.Ftruncate((int)handle.DangerousGetHandle(), length) != 0)
        {
            throw FsException.FromLastError("truncate", "<handle>");
        }
    }

    public static void Mkdir(string path, uint mode) => Check(Libc.Mkdir(path, mode), "mkdir", path);

    public static void Rmdir(string path) => Check(Libc.Rmdir(path), "rmdir", path);

    public static void Unlink(string path) => Check(Libc.Unlink(path), "unlink", path);

    public static void Link(string existing, string newPath) => Check(Libc.Link(existing, newPath), "link", newPath);

    public static void Symlink(string target, string linkPath) => Check(Libc.Symlink(target, linkPath), "symlink", linkPath);

    public static void Rename(string oldPath, string newPath, uint flags = 0) =>
        Check(Libc.Renameat2(Libc.AT_FDCWD, oldPath, Libc.AT_FDCWD, newPath, flags), "rename", oldPath);

    public static void Mknod(string path, uint mode, ulong device) => Check(Libc.Mknod(path, mode, device), "mknod", path);

    public static void Chmod(string path, uint mode) => Check(Libc.Chmod(path, mode), "chmod", path);

    public static void Chown(string path, uint uid, uint gid) => Check(Libc.Lchown(path, uid, gid), "chown", path);

    public static unsafe void SetTimes(string path, UnixTime? access, UnixTime? modify)
    {
        var times = stackalloc Libc.Timespec[2];
        times[0] = ToTimespec(access);
        times[1] = ToTimespec(modify);
        Check(Libc.Utimensat(Libc.AT_FDCWD, path, times, Libc.AT_SYMLINK_NOFOLLOW), "utimensat", path);
    }

    public static void Chmod(SafeFileHandle handle, uint mode) =>
        Check(Libc.Fchmod((int)handle.DangerousGetHandle(), mode), "fchmod", "<handle>");

    public static void Chown(SafeFileHandle handle, uint uid, uint gid) =>
        Check(Libc.Fchown((int)handle.DangerousGetHandle(), uid, gid), "fchown", "<handle>");

    public static unsafe void SetTimes(SafeFileHandle handle, UnixTime? access, UnixTime? modify)
    {
        var times = stackalloc Libc.Timespec[2];
        times[0] = ToTimespec(access);
        times[1] = ToTimespec(modify);
        Check(Libc.Futimens((int)handle.DangerousGetHandle(), times), "futimens", "<handle>");
    }

    public static unsafe string ReadLink(string path)
    {
        Span<byte> buffer = stackalloc byte[8192];
        fixed (byte* p = buffer)
        {
            nint n = Libc.Readlink(path, p, buffer.Length);
            if (n < 0)
            {
                throw FsException.FromLastError("readlink", path);
            }

            return System.Text.Encoding.UTF8.GetString(buffer[..(int)n]);
        }
    }

    public static unsafe byte[]? GetXattr(string path, string name)
    {
        while (true)
        {
            nint size = Libc.Lgetxattr(path, name, null, 0);
            if (size < 0)
            {
                var errno = (Errno)Marshal.GetLastPInvokeError();
                if (errno == Errno.ENODATA)
                {
                    return null;
                }

                throw new FsException(errno, $"getxattr '{path}': {FsException.Describe(errno)}");
            }

            var value = new byte[size];
            fixed (byte* p = value)
            {
                nint n = Libc.Lgetxattr(path, name, p, value.Length);
                if (n >= 0)
                {
                    return n == value.Length ? value : value[..(int)n];
                }

                if ((Errno)Marshal.GetLastPInvokeError() != Errno.ERANGE)
                {
                    throw FsException.FromLastError("getxattr", path);
                }
            }
        }
    }

    public static unsafe void SetXattr(string path, string name, ReadOnlySpan<byte> value, int flags)
    {
        fixed (byte* p = value)
        {
            Check(Libc.Lsetxattr(path, name, p, value.Length, flags), "setxattr", path);
        }
    }

    public static unsafe List<string> ListXattr(string path)
    {
        while (true)
        {
            nint size = Libc.Llistxattr(path, null, 0);
            if (size < 0)
            {
                throw FsException.FromLastError("listxattr", path);
            }

            var buffer = new byte[Math.Max(size, 1)];
            fixed (byte* p = buffer)
            {
                nint n = Libc.Llistxattr(path, p, buffer.Length);
                if (n < 0)
                {
                    if ((Errno)Marshal.GetLastPInvokeError() == Errno.ERANGE)
                    {
                        continue;
                    }

                    throw FsException.FromLastError("listxattr", path);
                }

                var names = new List<string>();
                foreach (var range in buffer.AsSpan(0, (int)n).Split((byte)0))
                {
                    if (range.End.Value > range.Start.Value)
                    {
                        names.Add(System.Text.Encoding.UTF8.GetString(buffer.AsSpan(range)));
                    }
                }

                return names;
            }
        }
    }

    /// <summary>Whether any attribute name starts with <paramref name="prefix"/> (true when unsure).</summary>
    public static unsafe bool HasXattrWithPrefix(string path, string prefix)
    {
        Span<byte> buffer = stackalloc byte[1024];
        fixed (byte* p = buffer)
        {
            nint n = Libc.Llistxattr(path, p, buffer.Length);
            if (n < 0)
            {
                if ((Errno)Marshal.GetLastPInvokeError() == Errno.ERANGE)
                {
                    return true;
                }

                throw FsException.FromLastError("listxattr", path);
            }

            var wanted = System.Text.Encoding.ASCII.GetBytes(prefix);
            foreach (var range in buffer[..(int)n].Split((byte)0))
            {
                if (buffer[range].StartsWith(wanted))
                {
                    return true;
                }
            }

            return false;
        }
    }

    public static void RemoveXattr(string path, string name) => Check(Libc.Lremovexattr(path, name), "removexattr", path);

    public static unsafe FileSystemStatus StatFs(string path)
    {
        Libc.StatvfsBuffer buffer;
        Check(Libc.Statvfs(path, &buffer), "statfs", path);
        return new FileSystemStatus(
            buffer.BlockSize,
            buffer.FragmentSize,
            buffer.Blocks,
            buffer.BlocksFree,
            buffer.BlocksAvailable,
            buffer.Files,
            buffer.FilesFree,
            buffer.NameMax);
    }

    public static bool IsRoot => EffectiveUid == 0;

    public static uint EffectiveUid { get; } = Libc.Geteuid();

    public static uint EffectiveGid { get; } = Libc.Getegid();

    private static void Check(int result, string operation, string path)
    {
        if (result != 0)
        {
            throw FsException.FromLastError(operation, path);
        }
    }

    private static Libc.Timespec ToTimespec(UnixTime? time) =>
        time is { } t ? new Libc.Timespec { Seconds = t.Seconds, Nanoseconds = t.Nanoseconds } : new Libc.Timespec { Nanoseconds = Libc.UTIME_OMIT };

    private static FileStatus ToStatus(in Libc.StatxBuffer b) => new(
        b.Mode,
        b.Inode,
        MakeDevice(b.DevMajor, b.DevMinor),
        b.Nlink,
        b.Uid,
        b.Gid,
        (long)b.Size,
        (long)b.Blocks,
        b.BlockSize,
        new UnixTime(b.AtimeSec, b.AtimeNsec),
        new UnixTime(b.MtimeSec, b.MtimeNsec),
        new UnixTime(b.CtimeSec, b.CtimeNsec),
        MakeDevice(b.RdevMajor, b.RdevMinor));

    /// <summary>glibc's makedev: the encoding st_rdev and mknod use.</summary>
    private static ulong MakeDevice(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}

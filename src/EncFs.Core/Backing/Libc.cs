using System.Runtime.InteropServices;

namespace EncFs.Core.Backing;

/// <summary>The libc calls the backing store needs and .NET does not expose (links, owners, xattrs, statx).</summary>
internal static partial class Libc
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200;
    public const int O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
    public const int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public const int AT_REMOVEDIR = 0x200;
    public const int LOCK_EX = 2, LOCK_NB = 4;
    public const long UTIME_OMIT = (1L << 30) - 2;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Openat(int dirfd, string path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlinkat(int dirfd, string path, int flags);

    [LibraryImport(Lib, EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint Readlinkat(int dirfd, string path, byte* buffer, nint size);

    [LibraryImport(Lib, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    public static unsafe partial nint Pread(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    public static unsafe partial nint Pwrite(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Lib, EntryPoint = "syncfs", SetLastError = true)]
    public static partial int Syncfs(int fd);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int Fdatasync(int fd);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport(Lib, EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Statvfs(string path, StatvfsBuffer* buffer);

    [LibraryImport(Lib, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdir(string path, uint mode);

    [LibraryImport(Lib, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Rmdir(string path);

    [LibraryImport(Lib, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Unlink(string path);

    [LibraryImport(Lib, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string existing, string newPath);

    [LibraryImport(Lib, EntryPoint = "symlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Symlink(string target, string linkPath);

    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint Readlink(string path, byte* buffer, nint size);

    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Renameat2(int olddirfd, string oldPath, int newdirfd, string newPath, uint flags);

    [LibraryImport(Lib, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mknod(string path, uint mode, ulong dev);

    [LibraryImport(Lib, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, uint mode);

    [LibraryImport(Lib, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport(Lib, EntryPoint = "fchown", SetLastError = true)]
    public static partial int Fchown(int fd, uint uid, uint gid);

    [LibraryImport(Lib, EntryPoint = "futimens", SetLastError = true)]
    public static unsafe partial int Futimens(int fd, Timespec* times);

    [LibraryImport(Lib, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, uint uid, uint gid);

    [LibraryImport(Lib, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Utimensat(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport(Lib, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint Lgetxattr(string path, string name, byte* value, nint size);

    [LibraryImport(Lib, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Lsetxattr(string path, string name, byte* value, nint size, int flags);

    [LibraryImport(Lib, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial nint Llistxattr(string path, byte* list, nint size);

    [LibraryImport(Lib, EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lremovexattr(string path, string name);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport(Lib, EntryPoint = "getegid")]
    public static partial uint Getegid();

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct statx: one layout on every architecture, unlike struct stat.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatxBuffer
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(4)] public uint BlockSize;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(48)] public ulong Blocks;
        [FieldOffset(64)] public long AtimeSec;
        [FieldOffset(72)] public uint AtimeNsec;
        [FieldOffset(96)] public long CtimeSec;
        [FieldOffset(104)] public uint CtimeNsec;
        [FieldOffset(112)] public long MtimeSec;
        [FieldOffset(120)] public uint MtimeNsec;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary>struct statvfs of 64-bit glibc: eleven unsigned longs and six ints of padding.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StatvfsBuffer
    {
        public ulong BlockSize;
        public ulong FragmentSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FilesAvailable;
        public ulong FsId;
        public ulong Flags;
        public ulong NameMax;
        public unsafe fixed int Spare[6];
    }
}

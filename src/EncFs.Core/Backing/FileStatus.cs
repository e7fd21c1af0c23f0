namespace EncFs.Core.Backing;

/// <summary>A point in time as seconds and nanoseconds since the Unix epoch.</summary>
public readonly record struct UnixTime(long Seconds, uint Nanoseconds)
{
    public DateTimeOffset ToDateTimeOffset() =>
        DateTimeOffset.FromUnixTimeSeconds(Seconds).AddTicks(Nanoseconds / 100);
}

/// <summary>What stat(2) tells about an entry. For plaintext entries, Size is the plaintext size.</summary>
public readonly record struct FileStatus(
    uint Mode,
    ulong Inode,
    ulong Device,
    uint LinkCount,
    uint Uid,
    uint Gid,
    long Size,
    long Blocks,
    uint BlockSize,
    UnixTime AccessTime,
    UnixTime ModifyTime,
    UnixTime ChangeTime,
    ulong RawDevice)
{
    public const uint TypeMask = 0xF000, Fifo = 0x1000, Directory = 0x4000, Regular = 0x8000, Symlink = 0xA000, Socket = 0xC000;

    public uint Type => Mode & TypeMask;

    public bool IsDirectory => Type == Directory;

    public bool IsRegular => Type == Regular;

    public bool IsSymlink => Type == Symlink;
}

/// <summary>What statfs(2) tells about the volume's backing filesystem.</summary>
public readonly record struct FileSystemStatus(
    ulong BlockSize,
    ulong FragmentSize,
    ulong Blocks,
    ulong BlocksFree,
    ulong BlocksAvailable,
    ulong Files,
    ulong FilesFree,
    ulong NameMax);

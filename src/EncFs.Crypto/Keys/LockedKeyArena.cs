using System.Runtime.InteropServices;

namespace EncFs.Crypto;

/// <summary>
/// One pinned, page-aligned region for small keys, locked in RAM (mlock: never written to swap)
/// and excluded from core dumps (MADV_DONTDUMP) where the system permits, for the life of the
/// process. Locking once avoids per-key pages and the non-stacking of mlock on shared pages.
/// Keys that do not fit fall back to ordinary pinned arrays.
/// </summary>
internal static partial class LockedKeyArena
{
    public const int SlotSize = 64;
    private const int Slots = 4096;
    private const int PageSize = 4096;
    private static readonly byte[] Memory = GC.AllocateArray<byte>((Slots * SlotSize) + PageSize, pinned: true);
    private static readonly int BaseOffset;
    private static readonly Stack<int> Free = new(Enumerable.Range(0, Slots).Reverse());
    private static readonly Lock Gate = new();

    static LockedKeyArena()
    {
        unsafe
        {
            fixed (byte* start = Memory)
            {
                long address = (long)start;
                BaseOffset = (int)(((address + PageSize - 1) & ~(long)(PageSize - 1)) - address);
                if (OperatingSystem.IsLinux())
                {
                    var region = start + BaseOffset;
                    IsLocked = Mlock(region, Slots * SlotSize) == 0;
                    ExcludedFromDumps = Madvise(region, Slots * SlotSize, MadvDontDump) == 0;
                }
            }
        }
    }

    /// <summary>Whether mlock succeeded (it needs RLIMIT_MEMLOCK of 256 KiB, or CAP_IPC_LOCK).</summary>
    public static bool IsLocked { get; }

    public static bool ExcludedFromDumps { get; }

    public static byte[] Buffer => Memory;

    /// <summary>The offset of a free slot in <see cref="Buffer"/>, or -1 when full.</summary>
    public static int Rent()
    {
        lock (Gate)
        {
            return Free.Count == 0 ? -1 : BaseOffset + (Free.Pop() * SlotSize);
        }
    }

    /// <summary>Returns a slot (already zeroed by its key).</summary>
    public static void Return(int offset)
    {
        lock (Gate)
        {
            Free.Push((offset - BaseOffset) / SlotSize);
        }
    }

    private const int MadvDontDump = 16;

    [LibraryImport("libc", EntryPoint = "mlock")]
    private static unsafe partial int Mlock(void* address, nint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static unsafe partial int Madvise(void* address, nint length, int advice);
}

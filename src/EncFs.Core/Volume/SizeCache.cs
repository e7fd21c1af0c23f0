using System.Collections.Concurrent;
using EncFs.Core.Backing;

namespace EncFs.Core.Volume;

/// <summary>
/// Plaintext sizes of files not open, by backing inode. An entry holds only while the backing
/// file's change time and length are those it was read with: any write (ours rewrites the
/// header on every size change) moves the change time.
/// </summary>
internal sealed class SizeCache
{
    private const int Capacity = 200_000;
    private readonly ConcurrentDictionary<ulong, (UnixTime Changed, long BackingLength, long Size)> _entries = new();

    public bool TryGet(in FileStatus backing, out long size)
    {
        if (_entries.TryGetValue(backing.Inode, out var entry) && entry.Changed == backing.ChangeTime && entry.BackingLength == backing.Size)
        {
            size = entry.Size;
            return true;
        }

        size = 0;
        return false;
    }

    public void Add(in FileStatus backing, long size)
    {
        if (_entries.Count >= Capacity)
        {
            _entries.Clear();
        }

        _entries[backing.Inode] = (backing.ChangeTime, backing.Size, size);
    }
}

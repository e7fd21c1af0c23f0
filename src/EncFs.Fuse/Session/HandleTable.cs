using System.Collections.Concurrent;
using EncFs.Core.Backing;

namespace EncFs.Fuse.Session;

/// <summary>Open file and directory handles by the number the kernel echoes back.</summary>
internal sealed class HandleTable<T>
    where T : class
{
    private readonly ConcurrentDictionary<ulong, T> _handles = new();
    private long _next;

    public int Count => _handles.Count;

    public ulong Add(T handle)
    {
        var id = (ulong)Interlocked.Increment(ref _next);
        _handles[id] = handle;
        return id;
    }

    public T Get(ulong id) =>
        _handles.TryGetValue(id, out var handle) ? handle : throw new FsException(Errno.EBADF, $"unknown handle {id}");

    public bool TryGet(ulong id, out T? handle) => _handles.TryGetValue(id, out handle);

    public IEnumerable<T> Values => _handles.Values;

    public T? Remove(ulong id) => _handles.TryRemove(id, out var handle) ? handle : null;

    public IEnumerable<T> RemoveAll()
    {
        foreach (var id in _handles.Keys)
        {
            if (_handles.TryRemove(id, out var handle))
            {
                yield return handle;
            }
        }
    }
}

/// <summary>A directory listing taken at opendir, so offsets stay stable while it is read.</summary>
internal sealed class DirectoryHandle(string path)
{
    public string Path { get; } = path;

    public IReadOnlyList<Core.Volume.DirectoryEntry>? Entries { get; set; }
}

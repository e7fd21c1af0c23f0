using EncFs.Core.Backing;

namespace EncFs.Core.Volume;

/// <summary>
/// Makes new directory records durable without an fsync per mkdir: records are synced in
/// batches at most a second after creation, and before any fsync or fsyncdir returns. A
/// record is the only copy of its directory's id, so it must reach the disk no later than
/// anything beneath it that the user made durable.
/// </summary>
internal sealed class DirectoryRecordSync : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Lock _flushLock = new();
    private readonly Timer _timer;

    public DirectoryRecordSync() => _timer = new Timer(_ => Flush(), null, Interval, Interval);

    public void Add(string recordPath)
    {
        lock (_lock)
        {
            _pending.Add(recordPath);
        }
    }

    public void Flush()
    {
        lock (_flushLock)
        {
            string[] batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                batch = [.. _pending];
                _pending.Clear();
            }

            foreach (var path in batch)
            {
                try
                {
                    using var handle = BackingFs.Open(path, Libc.O_RDONLY);
                    BackingFs.Fsync(handle);
                }
                catch (FsException e) when (e.Errno is Errno.ENOENT or Errno.ENOTDIR)
                {
                    // The directory was removed, or renamed and its path now names a file
                    // (RENAME_EXCHANGE): nothing to keep at this path.
                }
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}

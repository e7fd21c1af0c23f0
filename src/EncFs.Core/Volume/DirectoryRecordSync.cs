using EncFs.Core.Backing;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Volume;

/// <summary>
/// Makes new directory records durable without an fsync per mkdir: records are synced in
/// batches at most a second after creation, and before any fsync or fsyncdir returns. A
/// record is the only copy of its directory's id, so it must reach the disk no later than
/// anything beneath it that the user made durable. Pending records are held open, so a rename
/// of their directory meanwhile does not lose them.
/// </summary>
internal sealed class DirectoryRecordSync : IDisposable
{
    private const int MaxPending = 256;
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly List<SafeFileHandle> _pending = [];
    private readonly Lock _lock = new();
    private readonly Lock _flushLock = new();
    private readonly Timer _timer;

    public DirectoryRecordSync() => _timer = new Timer(_ => FlushInBackground(), null, Interval, Interval);

    /// <summary>Takes ownership of an open handle on a record just written.</summary>
    public void Add(SafeFileHandle record)
    {
        bool full;
        lock (_lock)
        {
            _pending.Add(record);
            full = _pending.Count >= MaxPending;
        }

        if (full)
        {
            Flush();
        }
    }

    /// <summary>Syncs every pending record; an error reaches the caller (whose fsync then fails).</summary>
    public void Flush()
    {
        lock (_flushLock)
        {
            SafeFileHandle[] batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                batch = [.. _pending];
                _pending.Clear();
            }

            for (int i = 0; i < batch.Length; i++)
            {
                try
                {
                    BackingFs.Fsync(batch[i]);
                    batch[i].Dispose();
                }
                catch
                {
                    lock (_lock)
                    {
                        _pending.AddRange(batch[i..]);
                    }

                    throw;
                }
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        try
        {
            Flush();
        }
        finally
        {
            lock (_lock)
            {
                foreach (var handle in _pending)
                {
                    handle.Dispose();
                }

                _pending.Clear();
            }
        }
    }

    /// <summary>A failure here is retried at the next tick or surfaces at the next fsync.</summary>
    private void FlushInBackground()
    {
        try
        {
            Flush();
        }
        catch (FsException)
        {
        }
    }
}

using System.Numerics;

namespace EncFs.Crypto.Xts;

/// <summary>
/// A small lock-free pool of initialised cipher contexts. Building a context runs the key
/// schedule, so contexts are reused across calls; a fixed slot array keeps rent/return free of
/// allocations once the pool is warm.
/// </summary>
internal sealed class ContextPool<T> : IDisposable
    where T : class, IDisposable
{
    private readonly T?[] _slots;
    private readonly int _mask;
    private readonly Func<T> _factory;
    private volatile bool _disposed;

    public ContextPool(Func<T> factory, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _factory = factory;

        // A power of two, so that slot indexes wrap with a mask rather than a division.
        _slots = new T?[(int)BitOperations.RoundUpToPowerOf2((uint)capacity)];
        _mask = _slots.Length - 1;
    }

    /// <summary>Default capacity: enough for every core to hold a context at once.</summary>
    public static int DefaultCapacity => Math.Clamp(Environment.ProcessorCount * 2, 4, 64);

    public T Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int start = Start();
        for (int i = 0; i < _slots.Length; i++)
        {
            T? item = Interlocked.Exchange(ref _slots[(start + i) & _mask], null);
            if (item is not null)
            {
                return item;
            }
        }

        // Pool empty (more concurrent callers than slots, or cold): build one more.
        return _factory();
    }

    public void Return(T item)
    {
        if (!_disposed)
        {
            int start = Start();
            for (int i = 0; i < _slots.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _slots[(start + i) & _mask], item, null) is null)
                {
                    // Dispose may have drained the slots between the check and the store.
                    if (_disposed)
                    {
                        Drain();
                    }

                    return;
                }
            }
        }

        item.Dispose();
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            Interlocked.Exchange(ref _slots[i], null)?.Dispose();
        }
    }

    // Spread threads over the slots so that concurrent callers rarely contend on one.
    private int Start() => Environment.CurrentManagedThreadId & _mask;
}

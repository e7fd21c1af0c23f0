using System.Collections.Concurrent;
using EncFs.Core.Format;

namespace EncFs.Core.Volume;

/// <summary>
/// Backing names by (directory id, plaintext name). A directory's id and scope never change,
/// so an entry never goes stale; the cache only bounds its size.
/// </summary>
internal sealed class NameCache
{
    private const int Capacity = 200_000;
    private readonly ConcurrentDictionary<(Guid128 Directory, string Name), (string Backing, string Encrypted)> _entries = new();

    public bool TryGet(Guid128 directory, string name, out (string Backing, string Encrypted) value) =>
        _entries.TryGetValue((directory, name), out value);

    public void Add(Guid128 directory, string name, string backing, string encrypted)
    {
        if (_entries.Count >= Capacity)
        {
            _entries.Clear();
        }

        _entries[(directory, name)] = (backing, encrypted);
    }
}

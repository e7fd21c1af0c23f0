using System.Collections.Concurrent;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;

namespace EncFs.Core.Volume;

/// <summary>
/// The unlocked scope keys of an open volume, and the reason each locked scope is locked.
/// Every access goes through <see cref="Get"/>, so a scope disabled at run time is refused at once.
/// </summary>
internal sealed class Keyring : IDisposable
{
    private readonly ConcurrentDictionary<(Guid128 Scope, int Generation), ScopeKeys> _keys = new();
    private readonly ConcurrentDictionary<Guid128, string> _lockedReasons = new();
    private volatile VolumeHeader _header;

    public Keyring(VolumeHeader header) => _header = header;

    public VolumeHeader Header
    {
        get => _header;
        set => _header = value;
    }

    public void Add(ScopeKeys keys)
    {
        if (!_keys.TryAdd((keys.ScopeId, keys.Generation), keys))
        {
            keys.Dispose();
        }
    }

    public void MarkLocked(Guid128 scope, string reason) => _lockedReasons[scope] = reason;

    public void ClearLocked(Guid128 scope) => _lockedReasons.TryRemove(scope, out _);

    public bool IsUnlocked(Guid128 scope, int generation) => _keys.ContainsKey((scope, generation));

    public string? LockedReason(Guid128 scope) => _lockedReasons.TryGetValue(scope, out var reason) ? reason : null;

    /// <summary>The keys of a scope generation; EACCES when the scope is disabled or its key is not available.</summary>
    public ScopeKeys Get(Guid128 scope, int generation)
    {
        var record = Scope(scope);
        if (!record.IsEnabled)
        {
            throw new FsException(Errno.EACCES, $"scope '{record.Name}' is disabled");
        }

        if (_keys.TryGetValue((scope, generation), out var keys))
        {
            return keys;
        }

        if (record.FindKey(generation) is null)
        {
            // The header never had this generation: the file or directory naming it is damaged
            // or forged, which is an I/O error, not a key the user could unlock.
            throw new FsException(Errno.EIO, $"scope '{record.Name}' has no key generation {generation} (the entry naming it is damaged)");
        }

        var reason = LockedReason(scope) ?? $"key generation {generation} is not available";
        throw new FsException(Errno.EACCES, $"scope '{record.Name}' is locked: {reason}");
    }

    public ScopeRecord Scope(Guid128 scope) =>
        _header.FindScope(scope.ToString()) ?? throw new FsException(Errno.EIO, $"unknown scope {scope} (the file names a scope the volume header does not have)");

    public ScopeRecord ScopeByNameOrId(string nameOrId) =>
        _header.FindScope(nameOrId) ?? throw new FsException(Errno.EINVAL, $"no scope named '{nameOrId}' in this volume");

    public void Dispose()
    {
        foreach (var keys in _keys.Values)
        {
            keys.Dispose();
        }

        _keys.Clear();
    }
}

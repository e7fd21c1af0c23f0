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
    private readonly ConcurrentDictionary<Guid128, ScopeGate> _gates = new();
    private readonly List<(ScopeKeys Keys, DateTime Since)> _retired = [];
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

    public void MarkLocked(Guid128 scope, string reason)
    {
        _lockedReasons[scope] = reason;
        Refresh(scope);
    }

    public void ClearLocked(Guid128 scope)
    {
        _lockedReasons.TryRemove(scope, out _);
        Refresh(scope);
    }

    /// <summary>The gate open files of <paramref name="scope"/> check on every read and write.</summary>
    public ScopeGate Gate(Guid128 scope) => _gates.GetOrAdd(scope, id =>
    {
        var gate = new ScopeGate();
        SetGate(gate, id);
        return gate;
    });

    /// <summary>Opens or closes the scope's gate after its state or key availability changed.</summary>
    public void Refresh(Guid128 scope) => SetGate(Gate(scope), scope);

    /// <summary>
    /// Takes every key of a scope out of use (its KEK was revoked). The keys are zeroed later, by
    /// <see cref="DisposeRetired"/>: an operation already holding them finishes first.
    /// </summary>
    public void Retire(Guid128 scope, string reason)
    {
        MarkLocked(scope, reason);
        lock (_retired)
        {
            foreach (var key in _keys.Keys.Where(k => k.Scope == scope).ToList())
            {
                if (_keys.TryRemove(key, out var keys))
                {
                    _retired.Add((keys, DateTime.UtcNow));
                }
            }
        }
    }

    /// <summary>Takes one destroyed generation's keys out of use (zeroed later, as in <see cref="Retire"/>).</summary>
    public void RetireGeneration(Guid128 scope, int generation)
    {
        lock (_retired)
        {
            if (_keys.TryRemove((scope, generation), out var keys))
            {
                _retired.Add((keys, DateTime.UtcNow));
            }
        }
    }

    /// <summary>Zeroes retired keys that left use more than <paramref name="grace"/> ago.</summary>
    public void DisposeRetired(TimeSpan grace)
    {
        lock (_retired)
        {
            var cutoff = DateTime.UtcNow - grace;
            foreach (var (keys, _) in _retired.Where(r => r.Since <= cutoff))
            {
                keys.Dispose();
            }

            _retired.RemoveAll(r => r.Since <= cutoff);
        }
    }

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

    private void SetGate(ScopeGate gate, Guid128 scope)
    {
        var record = _header.FindScope(scope.ToString());
        if (record is { IsEnabled: false })
        {
            gate.Close($"scope '{record.Name}' is disabled");
        }
        else if (LockedReason(scope) is { } reason)
        {
            gate.Close($"scope '{record?.Name}' is locked: {reason}");
        }
        else
        {
            gate.Open();
        }
    }

    public void Dispose()
    {
        DisposeRetired(TimeSpan.Zero);
        foreach (var keys in _keys.Values)
        {
            keys.Dispose();
        }

        _keys.Clear();
    }
}

using EncFs.Core.Audit;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>
/// Chooses the header copy to trust and unlocks the scopes: the default scope must unlock (its
/// key authenticates the header); other scopes that cannot are recorded as locked.
/// </summary>
internal static class VolumeUnlocker
{
    public static (Keyring Keyring, bool RepairNeeded) Unlock(string backingDir, IKeySource keySource, TimeSpan timeout, ILogger logger, IAuditLog audit)
    {
        var problems = new List<string>();
        var candidates = VolumeHeaderFile.ReadCandidates(backingDir, problems);
        KeyAccessException? keyFailure = null;
        foreach (var candidate in candidates)
        {
            var header = candidate.Header;
            ScopeKeys? defaultKeys = null;
            try
            {
                var scope = header.GetDefaultScope();
                var wrapped = scope.FindKey(scope.CurrentGeneration)
                    ?? throw new InvalidDataException($"scope '{scope.Name}' has no key of generation {scope.CurrentGeneration}");
                defaultKeys = KeySourceCall.Run(scope, timeout, () =>
                {
                    using var kek = keySource.GetKek(scope);
                    return Audited(audit, scope, wrapped, () => ScopeKeyWrapping.Unwrap(header, scope, wrapped, kek));
                });

                using var headerKey = defaultKeys.VolumeHeaderKey();
                if (!candidate.Authenticates(headerKey.Span))
                {
                    problems.Add($"{candidate.Path}: authentication failed (the header was altered)");
                    defaultKeys.Dispose();
                    continue;
                }
            }
            catch (KeyAccessException e)
            {
                defaultKeys?.Dispose();
                keyFailure ??= e;
                problems.Add($"{candidate.Path}: {e.Message}");
                continue;
            }
            catch (InvalidDataException e)
            {
                defaultKeys?.Dispose();
                problems.Add($"{candidate.Path}: {e.Message}");
                continue;
            }

            var keyring = new Keyring(header);
            keyring.Add(defaultKeys);
            UnlockRest(header, keyring, keySource, timeout, logger, audit);
            bool repair = candidates.Count < 2 || candidate != candidates[0] || !candidates[1].Body.AsSpan().SequenceEqual(candidate.Body);
            foreach (var problem in problems)
            {
                logger.LogWarning("Volume header problem: {Problem}", problem);
            }

            return (keyring, repair);
        }

        if (keyFailure is not null && problems.TrueForAll(p => !p.Contains("altered", StringComparison.Ordinal)))
        {
            throw keyFailure;
        }

        throw new InvalidDataException("cannot read the volume header: " + string.Join("; ", problems));
    }

    private static void UnlockRest(VolumeHeader header, Keyring keyring, IKeySource keySource, TimeSpan timeout, ILogger logger, IAuditLog audit)
    {
        foreach (var scope in header.Scopes)
        {
            if (!scope.IsEnabled)
            {
                keyring.MarkLocked(Guid128.Parse(scope.Id), "disabled");
                continue;
            }

            UnlockScope(header, scope, keyring, keySource, timeout, logger, audit);
        }
    }

    /// <summary>Unwraps every generation of one scope not yet unlocked; a failure leaves it locked with the reason.</summary>
    public static void UnlockScope(VolumeHeader header, ScopeRecord scope, Keyring keyring, IKeySource keySource, TimeSpan timeout, ILogger logger, IAuditLog audit)
    {
        var scopeId = Guid128.Parse(scope.Id);
        try
        {
            using var unwrapped = KeySourceCall.Run(scope, timeout, () =>
            {
                var keys = new UnwrappedKeys();
                try
                {
                    using var kek = keySource.GetKek(scope);
                    foreach (var wrapped in scope.Keys.Where(k => !keyring.IsUnlocked(scopeId, k.Generation)))
                    {
                        keys.Add(Audited(audit, scope, wrapped, () => ScopeKeyWrapping.Unwrap(header, scope, wrapped, kek)));
                    }

                    return keys;
                }
                catch
                {
                    keys.Dispose();
                    throw;
                }
            });
            unwrapped.MoveTo(keyring);
            keyring.ClearLocked(scopeId);
        }
        catch (Exception e) when (e is KeyAccessException or InvalidDataException)
        {
            if (e is KeyAccessException and not WrongKeyException)
            {
                audit.Write(new AuditEvent("unwrap", "failed", scope.Name, Detail: e.Message));
            }

            keyring.MarkLocked(scopeId, e.Message);
            logger.LogWarning("Scope {Scope} stays locked: {Reason}", scope.Name, e.Message);
        }
    }

    /// <summary>Keys unwrapped off the caller's thread: handed to the keyring, or zeroed if they arrive too late.</summary>
    private sealed class UnwrappedKeys : IDisposable
    {
        private readonly List<ScopeKeys> _keys = [];

        public void Add(ScopeKeys keys) => _keys.Add(keys);

        public void MoveTo(Keyring keyring)
        {
            foreach (var keys in _keys)
            {
                keyring.Add(keys);
            }

            _keys.Clear();
        }

        public void Dispose()
        {
            foreach (var keys in _keys)
            {
                keys.Dispose();
            }

            _keys.Clear();
        }
    }

    /// <summary>Unwraps and records the outcome (success or a wrong key) in the audit log.</summary>
    private static ScopeKeys Audited(IAuditLog audit, ScopeRecord scope, WrappedKeyRecord key, Func<ScopeKeys> unwrap)
    {
        try
        {
            var keys = unwrap();
            audit.Write(new AuditEvent("unwrap", "ok", scope.Name, key.KekId, key.KekVersion, key.Generation));
            return keys;
        }
        catch (KeyAccessException e)
        {
            audit.Write(new AuditEvent("unwrap", "denied", scope.Name, key.KekId, key.KekVersion, key.Generation, e.Message));
            throw;
        }
    }
}

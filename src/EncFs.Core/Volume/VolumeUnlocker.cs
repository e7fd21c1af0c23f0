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
    public static (Keyring Keyring, bool RepairNeeded) Unlock(string backingDir, IKeySource keySource, ILogger logger)
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
                using (var kek = keySource.GetKek(scope))
                {
                    defaultKeys = ScopeKeyWrapping.Unwrap(header, scope, wrapped, kek);
                }

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
            UnlockRest(header, keyring, keySource, logger);
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

    private static void UnlockRest(VolumeHeader header, Keyring keyring, IKeySource keySource, ILogger logger)
    {
        foreach (var scope in header.Scopes)
        {
            var scopeId = Guid128.Parse(scope.Id);
            if (!scope.IsEnabled)
            {
                keyring.MarkLocked(scopeId, "disabled");
                continue;
            }

            try
            {
                using var kek = keySource.GetKek(scope);
                foreach (var wrapped in scope.Keys)
                {
                    if (!keyring.IsUnlocked(scopeId, wrapped.Generation))
                    {
                        keyring.Add(ScopeKeyWrapping.Unwrap(header, scope, wrapped, kek));
                    }
                }
            }
            catch (Exception e) when (e is KeyAccessException or InvalidDataException)
            {
                keyring.MarkLocked(scopeId, e.Message);
                logger.LogWarning("Scope {Scope} stays locked: {Reason}", scope.Name, e.Message);
            }
        }
    }
}

using EncFs.Core.Audit;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>What a key check found for one scope.</summary>
public enum KeyCheckOutcome
{
    /// <summary>The KEK still opens the scope's DEK.</summary>
    Ok,

    /// <summary>The source refused (key deleted, disabled, access denied): the scope is now locked.</summary>
    Revoked,

    /// <summary>The source could not be reached: the scope keeps serving and is checked again later.</summary>
    Unreachable,

    /// <summary>A scope locked before is usable again (its key came back).</summary>
    Restored,

    /// <summary>The source has a newer KEK version: every generation was re-wrapped under it.</summary>
    Rewrapped,

    /// <summary>Nothing to check: disabled, or a key only the user holds (passphrase, provided).</summary>
    Skipped,

    /// <summary>The key answered, but acting on it failed (a new version could not be recorded: the header could not be written).</summary>
    Failed,
}

public sealed record KeyCheckResult(string Scope, KeyCheckOutcome Outcome, string Detail);

/// <summary>Checks of each scope's KEK at its source while the volume is open: revocation and new key versions.</summary>
public sealed partial class EncryptedVolume
{
    /// <summary>
    /// Asks each scope's key source whether its KEK still opens the scope's DEK. A refusal locks
    /// the scope at once (EACCES on open files too) and takes its keys out of use; an unreachable
    /// source changes nothing. With <paramref name="updateKeyVersion"/>, a newer KEK version at
    /// the source is adopted by re-wrapping (no data is touched).
    /// </summary>
    public IReadOnlyList<KeyCheckResult> CheckKeys(bool updateKeyVersion)
    {
        RequireWritable();
        _keyring.DisposeRetired(RetiredKeyGrace);
        var results = new List<KeyCheckResult>();
        foreach (var scope in Header.Scopes.ToList())
        {
            results.Add(CheckScopeKey(scope, updateKeyVersion));
        }

        return results;
    }

    /// <summary>The scope's KEK, asked from its source afresh (rotation and DEK generations of a live volume).</summary>
    public IKeyEncryptionKey OpenKek(string scopeNameOrId)
    {
        var scope = _keyring.ScopeByNameOrId(scopeNameOrId);
        _keySource.Forget(scope);
        return KeySourceCall.Run(scope, _keySourceTimeout, () => _keySource.GetKek(scope));
    }

    /// <summary>
    /// The KEK a new scope with <paramref name="keySource"/> would use, resolved by this volume's
    /// credentials (the platform keystore, the token PIN, the cloud identity it was opened with).
    /// </summary>
    public IKeyEncryptionKey OpenKekFor(System.Text.Json.Nodes.JsonObject keySource, string scopeName)
    {
        var probe = new ScopeRecord { Id = Guid128.NewRandom().ToString(), Name = scopeName, KeySource = keySource };
        return KeySourceCall.Run(probe, _keySourceTimeout, () => _keySource.GetKek(probe));
    }

    /// <summary>"ok" when the scope's files can be used now, else why not (disabled, locked and the reason).</summary>
    public string ScopeAccess(string scopeNameOrId)
    {
        var scope = _keyring.ScopeByNameOrId(scopeNameOrId);
        var scopeId = Guid128.Parse(scope.Id);
        return !scope.IsEnabled ? "disabled" : _keyring.LockedReason(scopeId) is { } reason ? "locked: " + reason : "ok";
    }

    /// <summary>How long revoked keys stay in memory before being zeroed, so operations holding them finish.</summary>
    private static TimeSpan RetiredKeyGrace => TimeSpan.FromSeconds(5);

    private KeyCheckResult CheckScopeKey(ScopeRecord scope, bool updateKeyVersion)
    {
        var scopeId = Guid128.Parse(scope.Id);
        if (!scope.IsEnabled || !_keySource.IsRevocable(scope))
        {
            return new KeyCheckResult(scope.Name, KeyCheckOutcome.Skipped, scope.IsEnabled ? $"key source {scope.KeySourceType} cannot be revoked at a source" : "disabled");
        }

        var wrapped = scope.FindKey(scope.CurrentGeneration);
        if (wrapped is null)
        {
            return new KeyCheckResult(scope.Name, KeyCheckOutcome.Skipped, $"no key of generation {scope.CurrentGeneration}");
        }

        bool wasLocked = _keyring.LockedReason(scopeId) is not null;
        _keySource.Forget(scope);
        try
        {
            using (var kek = KeySourceCall.Run(scope, _keySourceTimeout, () =>
            {
                var probe = _keySource.GetKek(scope);
                try
                {
                    ScopeKeyWrapping.Unwrap(Header, scope, wrapped, probe).Dispose();
                    return probe;
                }
                catch
                {
                    probe.Dispose();
                    throw;
                }
            }))
            {
                if (wasLocked)
                {
                    VolumeUnlocker.UnlockScope(Header, scope, _keyring, _keySource, _keySourceTimeout, _logger, AuditLog);
                    if (_keyring.LockedReason(scopeId) is null)
                    {
                        _logger.LogWarning("Scope {Scope}: its key is available again; access restored", scope.Name);
                        return new KeyCheckResult(scope.Name, KeyCheckOutcome.Restored, $"KEK {kek.KeyId} ({kek.KeyVersion}) opens the scope again");
                    }
                }

                if (updateKeyVersion && kek.KeyVersion != wrapped.KekVersion)
                {
                    var from = wrapped.KekVersion;
                    RewrapScope(scope.Id, scope.KeySource, kek);
                    _logger.LogInformation("Scope {Scope}: re-wrapped under the KEK's new version {Version} (was {Previous})", scope.Name, kek.KeyVersion, from);
                    return new KeyCheckResult(scope.Name, KeyCheckOutcome.Rewrapped, $"KEK {kek.KeyId}: version {from} -> {kek.KeyVersion}");
                }

                return new KeyCheckResult(scope.Name, KeyCheckOutcome.Ok, $"KEK {kek.KeyId} ({kek.KeyVersion})");
            }
        }
        catch (FsException e)
        {
            _logger.LogError("Scope {Scope}: key check could not complete: {Reason}", scope.Name, e.Message);
            return new KeyCheckResult(scope.Name, KeyCheckOutcome.Failed, e.Message);
        }
        catch (KeyUnavailableException e)
        {
            _logger.LogWarning("Scope {Scope}: key source unreachable ({Reason}); the scope keeps its state and is checked again later", scope.Name, e.Message);
            return new KeyCheckResult(scope.Name, KeyCheckOutcome.Unreachable, e.Message);
        }
        catch (Exception e) when (e is KeyAccessException or InvalidDataException)
        {
            if (!wasLocked)
            {
                _keyring.Retire(scopeId, $"its KEK was revoked at the source: {e.Message}");
                AuditLog.Write(new AuditEvent("revoked", "denied", scope.Name, wrapped.KekId, wrapped.KekVersion, wrapped.Generation, e.Message));
                _logger.LogError("Scope {Scope}: KEK revoked at its source ({Reason}); the scope is locked, its files refuse access (EACCES)", scope.Name, e.Message);
            }

            return new KeyCheckResult(scope.Name, KeyCheckOutcome.Revoked, e.Message);
        }
    }
}

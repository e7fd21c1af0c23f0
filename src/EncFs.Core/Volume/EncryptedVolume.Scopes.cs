using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EncFs.Core.Audit;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;

namespace EncFs.Core.Volume;

/// <summary>Encryption scopes: partitions of the volume with their own DEK. Never deleted, only disabled.</summary>
public sealed partial class EncryptedVolume
{
    public const int MaxScopeName = 64;

    /// <summary>Adds a scope whose new DEK is wrapped by <paramref name="kek"/>; persisted atomically.</summary>
    public ScopeRecord CreateScope(string name, JsonObject keySource, IKeyEncryptionKey kek, bool infrastructureEncryption)
    {
        RequireWritable();
        if (!ScopeNamePattern().IsMatch(name))
        {
            throw new FsException(Errno.EINVAL, $"scope name '{name}' must be 1 to {MaxScopeName} letters, digits, '.', '_' or '-'");
        }

        if (Header.FindScope(name) is not null)
        {
            throw new FsException(Errno.EEXIST, $"scope '{name}' already exists (scopes are never deleted; pick another name)");
        }

        var scope = new ScopeRecord
        {
            Id = Guid128.NewRandom().ToString(),
            Name = name,
            InfrastructureEncryption = infrastructureEncryption,
            KeySource = keySource,
        };
        var keys = ScopeKeyWrapping.CreateGeneration(Header, scope, 1, kek);
        Header.Scopes.Add(scope);
        try
        {
            SaveHeader();
        }
        catch
        {
            Header.Scopes.Remove(scope);
            keys.Dispose();
            throw;
        }

        _keyring.Add(keys);
        AuditLog.Write(new AuditEvent("scope-create", "ok", name, kek.KeyId, kek.KeyVersion, 1, $"key source {scope.KeySourceType}"));
        AuditLog.Write(new AuditEvent("wrap", "ok", name, kek.KeyId, kek.KeyVersion, 1));
        return scope;
    }

    /// <summary>
    /// Disables or enables a scope. While disabled, its files and directories refuse access
    /// (EACCES) at once on this open volume; the state is persisted atomically and audited.
    /// </summary>
    public void SetScopeEnabled(string nameOrId, bool enabled)
    {
        RequireWritable();
        var scope = _keyring.ScopeByNameOrId(nameOrId);
        if (!enabled && scope.Id == Header.DefaultScope)
        {
            throw new FsException(Errno.EPERM, $"scope '{scope.Name}' is the volume's default scope and cannot be disabled");
        }

        var previous = scope.State;
        scope.State = enabled ? ScopeRecord.Enabled : ScopeRecord.Disabled;
        if (previous == scope.State)
        {
            return;
        }

        try
        {
            SaveHeader();
        }
        catch
        {
            scope.State = previous;
            throw;
        }

        AuditLog.Write(new AuditEvent(enabled ? "scope-enable" : "scope-disable", "ok", scope.Name));
        if (enabled)
        {
            // A scope disabled when the volume was opened was never unlocked: do it now.
            VolumeUnlocker.UnlockScope(Header, scope, _keyring, _keySource, _logger, AuditLog);
        }
    }

    /// <summary>
    /// KEK rotation: re-wraps every DEK generation of the scope under <paramref name="newKek"/>
    /// (and records its new key source). No data is touched, so it takes the same time for any
    /// volume size. Every generation must be unlocked.
    /// </summary>
    public void RewrapScope(string nameOrId, JsonObject newKeySource, IKeyEncryptionKey newKek)
    {
        RequireWritable();
        var scope = _keyring.ScopeByNameOrId(nameOrId);
        var scopeId = Guid128.Parse(scope.Id);
        var oldKeys = scope.Keys;
        var oldSource = scope.KeySource;
        var rewrapped = oldKeys.ConvertAll(k => ScopeKeyWrapping.Rewrap(Header, scope, _keyring.Get(scopeId, k.Generation), newKek));
        scope.Keys = rewrapped;
        scope.KeySource = newKeySource;
        try
        {
            SaveHeader();
        }
        catch
        {
            scope.Keys = oldKeys;
            scope.KeySource = oldSource;
            throw;
        }

        AuditLog.Write(new AuditEvent("rewrap", "ok", scope.Name, newKek.KeyId, newKek.KeyVersion, scope.CurrentGeneration, $"{rewrapped.Count} generation(s) under a new KEK ({scope.KeySourceType})"));
    }

    /// <summary>
    /// DEK rotation: a new generation that new files and directories use from now on; existing
    /// ones keep theirs until re-encrypted. Wrapped by the scope's current KEK.
    /// </summary>
    public int RotateDek(string nameOrId, IKeyEncryptionKey kek)
    {
        RequireWritable();
        var scope = _keyring.ScopeByNameOrId(nameOrId);
        var previous = scope.CurrentGeneration;
        int generation = scope.Keys.Max(k => k.Generation) + 1;
        var keys = ScopeKeyWrapping.CreateGeneration(Header, scope, generation, kek);
        _keyring.Add(keys);
        try
        {
            SaveHeader();
        }
        catch
        {
            scope.Keys.RemoveAll(k => k.Generation == generation);
            scope.CurrentGeneration = previous;
            throw;
        }

        AuditLog.Write(new AuditEvent("dek-rotate", "ok", scope.Name, kek.KeyId, kek.KeyVersion, generation));
        return generation;
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ScopeNamePattern();
}

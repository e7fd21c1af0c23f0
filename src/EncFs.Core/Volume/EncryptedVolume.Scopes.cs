using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EncFs.Core.Audit;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>Encryption scopes: partitions of the volume with their own DEK. Never deleted, only disabled.</summary>
public sealed partial class EncryptedVolume
{
    public const int MaxScopeName = 64;

    /// <summary>Adds a scope whose new DEK is wrapped by <paramref name="kek"/>; persisted atomically.</summary>
    public ScopeRecord CreateScope(string name, JsonObject keySource, IKeyEncryptionKey kek, bool infrastructureEncryption)
    {
        lock (_headerLock)
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
    }

    /// <summary>
    /// Disables or enables a scope. While disabled, its files and directories refuse access
    /// (EACCES) at once on this open volume; the state is persisted atomically and audited.
    /// </summary>
    public void SetScopeEnabled(string nameOrId, bool enabled)
    {
        lock (_headerLock)
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
            var scopeId = Guid128.Parse(scope.Id);
            if (enabled && _keyring.LockedReason(scopeId) is not null)
            {
                // A scope disabled when the volume was opened was never unlocked: do it now.
                VolumeUnlocker.UnlockScope(Header, scope, _keyring, _keySource, _keySourceTimeout, _logger, AuditLog);
            }

            _keyring.Refresh(scopeId);
            _logger.LogInformation("Scope {Scope} {State}", scope.Name, enabled ? "enabled: its files are accessible again" : "disabled: its files refuse access (EACCES)");
        }
    }

    /// <summary>
    /// KEK rotation: re-wraps every DEK generation of the scope under <paramref name="newKek"/>
    /// (and records its new key source). No data is touched, so it takes the same time for any
    /// volume size. Every generation must be unlocked.
    /// </summary>
    public void RewrapScope(string nameOrId, JsonObject newKeySource, IKeyEncryptionKey newKek)
    {
        lock (_headerLock)
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
    }

    /// <summary>
    /// DEK rotation: a new generation that new files and directories use from now on; existing
    /// ones keep theirs until re-encrypted. Wrapped by the scope's current KEK.
    /// </summary>
    public int RotateDek(string nameOrId, IKeyEncryptionKey kek)
    {
        lock (_headerLock)
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
    }

    /// <summary>
    /// Chooses the scope of an entry that holds nothing yet: an empty directory (the default
    /// scope of what is created inside it, and whether other scopes are denied there) or an
    /// empty file before its first byte. The parent's deny-override policy applies.
    /// </summary>
    public void SetEntryScope(string path, string scopeNameOrId, bool? denyOverride = null)
    {
        RequireWritable();
        var entry = Resolve(path);
        var status = StatEntry(entry.BackingPath, path);
        var scope = _keyring.ScopeByNameOrId(scopeNameOrId);
        CheckScopeAllowed(entry, Guid128.Parse(scope.Id), path);
        var keys = CurrentKeys(scope);
        if (status.IsDirectory)
        {
            if (Directory.EnumerateFileSystemEntries(entry.BackingPath).Any(e => Path.GetFileName(e) != DirectoryRecord.FileName))
            {
                throw new FsException(Errno.ENOTEMPTY, $"'{path}' is not empty: a directory's scope is chosen before anything is created in it");
            }

            var current = LoadDirectory(entry.BackingPath, path);
            // A new id, so no cached name of the old record can be mistaken for one of the new.
            var record = new DirectoryRecord(Guid128.NewRandom(), keys.ScopeId, keys.Generation, denyOverride ?? current.DenyOverride);
            var bytes = record.Encode(r =>
            {
                using var key = keys.DirectoryRecordKey(r.DirectoryId);
                return key.Span.ToArray();
            });
            AtomicFile.Write(Path.Combine(entry.BackingPath, DirectoryRecord.FileName), bytes, 0x1A4);
            ForgetDirectories(entry.BackingPath);
        }
        else if (status.IsRegular)
        {
            if (denyOverride is not null)
            {
                throw new FsException(Errno.EINVAL, $"'{path}': deny-override applies to directories");
            }

            ResetEmptyFile(path, keys, new SectorLayout(Header.SectorSize, scope.InfrastructureEncryption));
        }
        else
        {
            throw new FsException(Errno.EINVAL, $"'{path}': only files and directories have a scope of their own");
        }

        AuditLog.Write(new AuditEvent("entry-scope", "ok", scope.Name, Detail: $"{path}{(denyOverride is { } deny ? deny ? " (other scopes denied)" : " (other scopes allowed)" : string.Empty)}"));
    }

    /// <summary>Rewrites the header of an empty file for another scope: a new file id and keys.</summary>
    private void ResetEmptyFile(string path, ScopeKeys keys, SectorLayout layout)
    {
        var header = FileHeader.ForNewFile(keys.ScopeId, keys.Generation, layout);
        var bytes = new byte[FileHeader.Size];
        header.WriteFixedPart(bytes);

        // Through the open node when there is one (a close's RELEASE may still be on its way),
        // so every handle goes on with the new keys; else straight to the backing file.
        using var handle = OpenFile(path, FileAccess.ReadWrite);
        FileNode node;
        lock (_nodesLock)
        {
            node = _nodes[handle.GetStatus().Inode];
        }

        node.Rekey(new Content.FileCipher(keys, header.FileId, layout), _keyring.Gate(keys.ScopeId), bytes);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ScopeNamePattern();
}

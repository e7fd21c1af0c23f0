using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Names;

namespace EncFs.Core.Volume;

public sealed partial class EncryptedVolume
{
    /// <summary>A plaintext path resolved to the backing directory that holds it and its backing name.</summary>
    private readonly record struct Resolved(string ParentBacking, DirectoryRecord Parent, string Name, string EncryptedName, string BackingPath)
    {
        public bool IsLongName => LongName.IsHashed(Path.GetFileName(BackingPath));

        public string SidecarPath => BackingPath + LongName.SidecarSuffix;
    }

    private static IEnumerable<string> Components(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            throw new FsException(Errno.EINVAL, $"'{path}' is not an absolute volume path");
        }

        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part is "." or ".." || part.Contains('\0', StringComparison.Ordinal))
            {
                throw new FsException(Errno.EINVAL, $"'{path}': '.', '..' and NUL are not allowed in volume paths");
            }

            yield return part;
        }
    }

    /// <summary>The backing path of any plaintext path, the root included.</summary>
    private string BackingPathOf(string path)
    {
        var parts = Components(path).ToArray();
        return parts.Length == 0 ? TreeRoot : Resolve(path, parts).BackingPath;
    }

    /// <summary>Resolves a non-root path; its parent directories must exist.</summary>
    private Resolved Resolve(string path) => Resolve(path, Components(path).ToArray());

    private Resolved Resolve(string path, string[] parts)
    {
        if (parts.Length == 0)
        {
            throw new FsException(Errno.EINVAL, "the root has no parent");
        }

        string backing = TreeRoot;
        var record = LoadDirectory(backing, "/");
        for (int i = 0; i < parts.Length - 1; i++)
        {
            backing = Path.Combine(backing, BackingName(record, parts[i], out _));
            record = LoadDirectory(backing, path);
        }

        var name = parts[^1];
        var backingName = BackingName(record, name, out var encrypted);
        return new Resolved(backing, record, name, encrypted, Path.Combine(backing, backingName));
    }

    private string BackingName(DirectoryRecord directory, string name, out string encrypted)
    {
        var keys = _keyring.Get(directory.ScopeId, directory.Generation);
        if (_names.TryGet(directory.DirectoryId, name, out var cached))
        {
            encrypted = cached.Encrypted;
            return cached.Backing;
        }

        Span<byte> id = stackalloc byte[Guid128.Size];
        directory.DirectoryId.WriteTo(id);
        encrypted = keys.Names.EncryptName(id, name);
        var backing = LongName.NeedsHashing(encrypted) ? LongName.Hashed(encrypted) : encrypted;
        _names.Add(directory.DirectoryId, name, backing, encrypted);
        return backing;
    }

    /// <summary>The record of a backing directory, authenticated and cached.</summary>
    private DirectoryRecord LoadDirectory(string backingDir, string displayPath)
    {
        if (_directories.TryGetValue(backingDir, out var cached))
        {
            _keyring.Get(cached.ScopeId, cached.Generation);
            return cached;
        }

        if (!BackingFs.TryStat(backingDir, out var status))
        {
            throw new FsException(Errno.ENOENT, $"'{displayPath}': no such file or directory");
        }

        if (!status.IsDirectory)
        {
            throw new FsException(Errno.ENOTDIR, $"'{displayPath}': not a directory");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path.Combine(backingDir, DirectoryRecord.FileName));
        }
        catch (FileNotFoundException e)
        {
            throw new FsException(Errno.EIO, $"'{displayPath}': directory record missing from '{backingDir}'", e);
        }

        DirectoryRecord record;
        try
        {
            record = DirectoryRecord.Decode(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new FsException(Errno.EIO, $"'{displayPath}': {e.Message} in '{backingDir}'", e);
        }

        var keys = _keyring.Get(record.ScopeId, record.Generation);
        using (var key = keys.DirectoryRecordKey(record.DirectoryId))
        {
            if (!DirectoryRecord.Verify(bytes, key.Span))
            {
                throw new FsException(Errno.EIO, $"'{displayPath}': directory record in '{backingDir}' failed authentication (tampered)");
            }
        }

        _directories[backingDir] = record;
        return record;
    }

    private void ForgetDirectories(string backingDir)
    {
        foreach (var key in _directories.Keys)
        {
            if (key == backingDir || key.StartsWith(backingDir + "/", StringComparison.Ordinal))
            {
                _directories.TryRemove(key, out _);
            }
        }
    }

    /// <summary>The scope new entries get in a directory, honouring its deny-override policy.</summary>
    private ScopeRecord ScopeForNewEntry(Resolved target, string? requested)
    {
        var parentScope = _keyring.Scope(target.Parent.ScopeId);
        if (requested is null)
        {
            return parentScope;
        }

        var scope = _keyring.ScopeByNameOrId(requested);
        if (scope.Id != parentScope.Id && target.Parent.DenyOverride)
        {
            _logger.LogScopeOverrideDenied(target.Name, parentScope.Name, scope.Name);
            throw new FsException(Errno.EACCES, $"the directory of '{target.Name}' requires scope '{parentScope.Name}' and denies '{scope.Name}'");
        }

        return scope;
    }

    private ScopeKeys CurrentKeys(ScopeRecord scope) => _keyring.Get(Guid128.Parse(scope.Id), scope.CurrentGeneration);
}

using EncFs.Core.Backing;
using EncFs.Core.Content;
using EncFs.Core.Format;
using EncFs.Core.Names;

namespace EncFs.Core.Volume;

public sealed partial class EncryptedVolume
{
    public FileStatus GetStatus(string path)
    {
        var backing = BackingPathOf(path);
        return PlaintextStatus(backing, StatEntry(backing, path));
    }

    public IReadOnlyList<DirectoryEntry> ReadDirectory(string path, bool withStatus = false)
    {
        var backing = BackingPathOf(path);
        var record = LoadDirectory(backing, path);
        var names = _keyring.Get(record.ScopeId, record.Generation).Names;
        Span<byte> directoryId = stackalloc byte[Guid128.Size];
        record.DirectoryId.WriteTo(directoryId);
        var entries = new List<DirectoryEntry>();
        foreach (var entryPath in Directory.EnumerateFileSystemEntries(backing))
        {
            var backingName = Path.GetFileName(entryPath);
            if (!IsEntryName(backingName))
            {
                continue;
            }

            var encrypted = EncryptedNameOf(entryPath, backingName);
            var name = encrypted is null ? null : names.TryDecryptName(directoryId, encrypted);
            if (name is null)
            {
                _logger.LogUndecryptableName(backingName, backing);
                continue;
            }

            if (!BackingFs.TryStat(entryPath, out var status))
            {
                continue;
            }

            entries.Add(new DirectoryEntry(name, status.Type, withStatus ? PlaintextStatus(entryPath, status) : null));
        }

        return entries;
    }

    /// <summary>"Check the encryption status" of an entry.</summary>
    public EncryptionStatus GetEncryptionStatus(string path)
    {
        var backing = BackingPathOf(path);
        var status = StatEntry(backing, path);
        Guid128 scopeId;
        int generation;
        string kind;
        if (status.IsDirectory)
        {
            var record = LoadDirectory(backing, path);
            (scopeId, generation, kind) = (record.ScopeId, record.Generation, "directory");
        }
        else if (status.IsRegular)
        {
            var header = ReadFileHeader(backing, path);
            (scopeId, generation, kind) = (header.ScopeId, header.Generation, "file");
        }
        else if (status.IsSymlink && ReadStoredSymlink(backing) is var (linkScope, linkGeneration, _))
        {
            // A link's target is encrypted with the scope named in it, which may not be its parent's.
            (scopeId, generation, kind) = (linkScope, linkGeneration, "symlink");
        }
        else
        {
            var parent = Resolve(path).Parent;
            (scopeId, generation, kind) = (parent.ScopeId, parent.Generation, status.IsSymlink ? "symlink" : "special");
        }

        var scope = _keyring.Scope(scopeId);
        var key = scope.FindKey(generation);
        return new EncryptionStatus(
            path,
            kind,
            scope.Id,
            scope.Name,
            scope.State,
            scope.KeySourceType,
            key?.KekId ?? "?",
            key?.KekVersion ?? "?",
            generation,
            scope.InfrastructureEncryption,
            Header.SectorSize);
    }

    private static FileStatus StatEntry(string backing, string path)
    {
        if (!BackingFs.TryStat(backing, out var status))
        {
            throw new FsException(Errno.ENOENT, $"'{path}': no such file or directory");
        }

        return status;
    }

    private FileStatus PlaintextStatus(string backing, FileStatus status)
    {
        if (status.IsRegular)
        {
            return status with { Size = PlaintextSize(backing, status) };
        }

        if (status.IsSymlink)
        {
            var target = TryReadSymlink(backing);
            return target is null ? status : status with { Size = System.Text.Encoding.UTF8.GetByteCount(target) };
        }

        return status;
    }

    private long PlaintextSize(string backing, FileStatus status)
    {
        lock (_nodesLock)
        {
            if (_nodes.TryGetValue(status.Inode, out var node))
            {
                return node.Size;
            }
        }

        if (_sizes.TryGet(status, out var known))
        {
            return known;
        }

        var layout = new SectorLayout(Header.SectorSize, false);
        try
        {
            var bytes = new byte[FileHeader.Size];
            using (var handle = BackingFs.Open(backing, Libc.O_RDONLY))
            {
                if (BackingFs.ReadAt(handle, bytes, 0) < FileHeader.Size)
                {
                    throw new InvalidDataException("file header truncated");
                }
            }

            var header = FileHeader.ReadFixedPart(bytes);
            layout = new SectorLayout(header.SectorSize, header.Infrastructure);
            if (_keyring.IsUnlocked(header.ScopeId, header.Generation) && _keyring.Scope(header.ScopeId).IsEnabled)
            {
                var size = SizeSeal.Open(_keyring.Get(header.ScopeId, header.Generation), header.FileId, bytes);
                if (size is not null)
                {
                    _sizes.Add(status, size.Value);
                    return size.Value;
                }

                _logger.LogDamagedHeader(backing, "size failed authentication");
            }
        }
        catch (Exception e) when (e is InvalidDataException or FsException)
        {
            _logger.LogDamagedHeader(backing, e.Message);
        }

        // Locked, disabled or damaged: report the sector-rounded size, so the entry can still be
        // listed and removed; reading it fails.
        long sectors = Math.Max(0, status.Size - FileHeader.Size) / layout.Stride;
        return sectors * layout.SectorSize;
    }

    private FileHeader ReadFileHeader(string backing, string path)
    {
        var bytes = new byte[FileHeader.Size];
        using (var handle = OpenBacking(backing, Libc.O_RDONLY, path))
        {
            BackingFs.ReadAt(handle, bytes, 0);
        }

        try
        {
            return FileHeader.ReadFixedPart(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new FsException(Errno.EIO, $"'{path}': {e.Message} (backing file '{backing}')", e);
        }
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle OpenBacking(string backing, int flags, string path)
    {
        try
        {
            return BackingFs.Open(backing, flags);
        }
        catch (FsException e)
        {
            throw new FsException(e.Errno, $"'{path}': {FsException.Describe(e.Errno)}", e);
        }
    }

    /// <summary>Whether a backing name is an entry, not EncFs metadata (".efsdir") or a long name's sidecar.</summary>
    private static bool IsEntryName(string backingName) => !backingName.StartsWith('.') && !LongName.IsSidecar(backingName);

    /// <summary>An entry's encrypted name: its backing name, or its sidecar's for a hashed long name (null when that is missing or wrong).</summary>
    private string? EncryptedNameOf(string entryPath, string backingName) =>
        LongName.IsHashed(backingName) ? ReadSidecar(entryPath, backingName) : backingName;

    private string? ReadSidecar(string entryPath, string hashedName)
    {
        try
        {
            var encrypted = File.ReadAllText(entryPath + LongName.SidecarSuffix, System.Text.Encoding.ASCII);
            return LongName.Matches(hashedName, encrypted) ? encrypted : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}

using System.Buffers.Text;
using System.Buffers.Binary;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Names;

namespace EncFs.Core.Volume;

public sealed partial class EncryptedVolume
{
    public void CreateDirectory(string path, CreateOptions options)
    {
        RequireWritable();
        var target = Resolve(path);
        var scope = ScopeForNewEntry(target, options.Scope);
        var keys = CurrentKeys(scope);
        bool deny = options.DenyOverride ?? (target.Parent.DenyOverride && scope.Id == _keyring.Scope(target.Parent.ScopeId).Id);
        WriteSidecarIfLong(target);
        MapErrors(path, () => BackingFs.Mkdir(target.BackingPath, options.Mode & 0xFFF));
        try
        {
            // The record is written with the owner's bits: make sure we can write it.
            BackingFs.Chmod(target.BackingPath, (options.Mode & 0xFFF) | 0x1C0);
            _recordSync.Add(WriteDirectoryRecord(target.BackingPath, new DirectoryRecord(Guid128.NewRandom(), keys.ScopeId, keys.Generation, deny), keys));
            BackingFs.Chmod(target.BackingPath, options.Mode & 0xFFF);
            ApplyOwner(target.BackingPath, options);
        }
        catch
        {
            TryDelete(Path.Combine(target.BackingPath, DirectoryRecord.FileName));
            BackingFs.Rmdir(target.BackingPath);
            RemoveSidecarIfLong(target);
            throw;
        }
    }

    public void RemoveDirectory(string path)
    {
        RequireWritable();
        var target = Resolve(path);
        var status = StatEntry(target.BackingPath, path);
        if (!status.IsDirectory)
        {
            throw new FsException(Errno.ENOTDIR, $"'{path}' is not a directory");
        }

        if (Directory.EnumerateFileSystemEntries(target.BackingPath).Any(e => Path.GetFileName(e) != DirectoryRecord.FileName))
        {
            throw new FsException(Errno.ENOTEMPTY, $"'{path}' is not empty");
        }

        var recordPath = Path.Combine(target.BackingPath, DirectoryRecord.FileName);
        var record = File.ReadAllBytes(recordPath);
        BackingFs.Unlink(recordPath);
        try
        {
            BackingFs.Rmdir(target.BackingPath);
        }
        catch (FsException e)
        {
            // Something appeared meanwhile: put the record back so its names stay readable.
            File.WriteAllBytes(recordPath, record);
            throw new FsException(e.Errno, $"'{path}': {FsException.Describe(e.Errno)}", e);
        }

        ForgetDirectories(target.BackingPath);
        RemoveSidecarIfLong(target);
    }

    public void Unlink(string path)
    {
        RequireWritable();
        var target = Resolve(path);
        if (StatEntry(target.BackingPath, path).IsDirectory)
        {
            throw new FsException(Errno.EISDIR, $"'{path}' is a directory");
        }

        MapErrors(path, () => BackingFs.Unlink(target.BackingPath));
        RemoveSidecarIfLong(target);
    }

    public void Rename(string from, string to, RenameFlags flags = RenameFlags.None)
    {
        RequireWritable();
        var source = Resolve(from);
        var destination = Resolve(to);
        var sourceStatus = StatEntry(source.BackingPath, from);
        CheckScopeAllowed(destination, EntryScope(source, sourceStatus), to);
        if (flags.HasFlag(RenameFlags.Exchange))
        {
            CheckScopeAllowed(source, EntryScope(destination, StatEntry(destination.BackingPath, to)), from);
        }

        WriteSidecarIfLong(destination);
        if (flags.HasFlag(RenameFlags.Exchange))
        {
            WriteSidecarIfLong(source);
        }

        // POSIX lets a directory replace an empty one, but the backing directory of an empty
        // plaintext directory still holds its record: set the record aside for the rename.
        var replacedRecord = sourceStatus.IsDirectory && flags == RenameFlags.None && source.BackingPath != destination.BackingPath
            ? TakeRecordOfEmptyDirectory(destination.BackingPath)
            : null;
        try
        {
            MapErrors(from, () => BackingFs.Rename(source.BackingPath, destination.BackingPath, (uint)flags));
        }
        catch when (replacedRecord is not null)
        {
            File.WriteAllBytes(Path.Combine(destination.BackingPath, DirectoryRecord.FileName), replacedRecord);
            throw;
        }

        if (sourceStatus.IsDirectory || flags.HasFlag(RenameFlags.Exchange))
        {
            ForgetDirectories(source.BackingPath);
            ForgetDirectories(destination.BackingPath);
        }

        if (!flags.HasFlag(RenameFlags.Exchange) && source.BackingPath != destination.BackingPath)
        {
            RemoveSidecarIfLong(source);
        }
    }

    public void Link(string existing, string newPath)
    {
        RequireWritable();
        var source = Resolve(existing);
        var destination = Resolve(newPath);
        var status = StatEntry(source.BackingPath, existing);
        if (status.IsDirectory)
        {
            throw new FsException(Errno.EPERM, $"'{existing}' is a directory; hard links to directories are not allowed");
        }

        CheckScopeAllowed(destination, EntryScope(source, status), newPath);
        WriteSidecarIfLong(destination);
        MapErrors(newPath, () => BackingFs.Link(source.BackingPath, destination.BackingPath));
    }

    public void CreateSymlink(string path, string target, CreateOptions options)
    {
        RequireWritable();
        var entry = Resolve(path);
        var scope = ScopeForNewEntry(entry, options.Scope);
        var stored = StoredSymlinkTarget(CurrentKeys(scope), target);
        WriteSidecarIfLong(entry);
        MapErrors(path, () => BackingFs.Symlink(stored, entry.BackingPath));
        ApplyOwner(entry.BackingPath, options);
    }

    public string ReadSymlink(string path)
    {
        var backing = Resolve(path).BackingPath;
        if (!StatEntry(backing, path).IsSymlink)
        {
            throw new FsException(Errno.EINVAL, $"'{path}' is not a symbolic link");
        }

        return TryReadSymlink(backing, throwOnLocked: true)
            ?? throw new FsException(Errno.EIO, $"'{path}': symlink target failed authentication (tampered or damaged)");
    }

    /// <summary>Creates a FIFO or socket node (device nodes are refused: they would bypass the volume).</summary>
    public void CreateSpecial(string path, CreateOptions options)
    {
        RequireWritable();
        uint type = options.Mode & FileStatus.TypeMask;
        if (type is not (FileStatus.Fifo or FileStatus.Socket))
        {
            throw new FsException(Errno.EPERM, $"'{path}': only FIFOs and sockets can be created");
        }

        var entry = Resolve(path);
        ScopeForNewEntry(entry, options.Scope);
        WriteSidecarIfLong(entry);
        MapErrors(path, () => BackingFs.Mknod(entry.BackingPath, options.Mode, 0));
        ApplyOwner(entry.BackingPath, options);
    }

    public void SetMode(string path, uint mode)
    {
        RequireWritable();
        var backing = BackingPathOf(path);
        MapErrors(path, () => BackingFs.Chmod(backing, mode & 0xFFF));
    }

    public void SetOwner(string path, uint? uid, uint? gid)
    {
        RequireWritable();
        var backing = BackingPathOf(path);
        MapErrors(path, () => BackingFs.Chown(backing, uid ?? uint.MaxValue, gid ?? uint.MaxValue));
    }

    public void SetTimes(string path, UnixTime? access, UnixTime? modify)
    {
        RequireWritable();
        var backing = BackingPathOf(path);
        MapErrors(path, () => BackingFs.SetTimes(backing, access, modify));
    }

    public void SetLength(string path, long length)
    {
        using var handle = OpenFile(path, FileAccess.Write);
        handle.SetLength(length);
    }

    public void SyncDirectory(string path)
    {
        FlushDirectoryRecords();
        BackingFs.FsyncDirectory(BackingPathOf(path));
    }

    private string? TryReadSymlink(string backing, bool throwOnLocked = false)
    {
        if (ReadStoredSymlink(backing) is not var (scope, generation, stored))
        {
            return null;
        }

        if (!throwOnLocked && !_keyring.IsUnlocked(scope, generation))
        {
            return null;
        }

        return _keyring.Get(scope, generation).Names.TryOpenTarget(stored.AsSpan(Guid128.Size + sizeof(int)));
    }

    /// <summary>What a backing symlink holds (docs/FORMAT.md 6.3): scope id, generation and the sealed target, base64url.</summary>
    private static string StoredSymlinkTarget(ScopeKeys keys, string target)
    {
        var sealedTarget = keys.Names.SealTarget(target);
        var stored = new byte[Guid128.Size + sizeof(int) + sealedTarget.Length];
        keys.ScopeId.WriteTo(stored);
        BinaryPrimitives.WriteInt32LittleEndian(stored.AsSpan(Guid128.Size), keys.Generation);
        sealedTarget.CopyTo(stored, Guid128.Size + sizeof(int));
        return Base64Url.EncodeToString(stored);
    }

    /// <summary>The scope and generation a backing symlink names (docs/FORMAT.md 6.3), and its decoded bytes; null when malformed.</summary>
    private static (Guid128 Scope, int Generation, byte[] Stored)? ReadStoredSymlink(string backing)
    {
        var text = BackingFs.ReadLink(backing);
        if (!Base64Url.IsValid(text))
        {
            return null;
        }

        var stored = Base64Url.DecodeFromChars(text);
        if (stored.Length < Guid128.Size + sizeof(int))
        {
            return null;
        }

        return (Guid128.Read(stored), BinaryPrimitives.ReadInt32LittleEndian(stored.AsSpan(Guid128.Size)), stored);
    }

    /// <summary>
    /// The scope an existing entry belongs to: its header's for files, its record's for
    /// directories, the one named in its target for symlinks (it may differ from the parent's).
    /// </summary>
    private Guid128 EntryScope(Resolved entry, FileStatus status)
    {
        if (status.IsDirectory)
        {
            return LoadDirectory(entry.BackingPath, entry.Name).ScopeId;
        }

        if (status.IsSymlink && ReadStoredSymlink(entry.BackingPath) is var (scope, _, _))
        {
            return scope;
        }

        return status.IsRegular ? ReadFileHeader(entry.BackingPath, entry.Name).ScopeId : entry.Parent.ScopeId;
    }

    private void CheckScopeAllowed(Resolved destination, Guid128 scope, string path)
    {
        if (destination.Parent.DenyOverride && scope != destination.Parent.ScopeId)
        {
            var required = _keyring.Scope(destination.Parent.ScopeId).Name;
            var actual = _keyring.Scope(scope).Name;
            _logger.LogScopeOverrideDenied(path, required, actual);
            throw new FsException(Errno.EACCES, $"'{path}': the directory requires scope '{required}' and denies '{actual}'");
        }
    }

    /// <summary>
    /// Removes the record of a backing directory that holds nothing else and returns its bytes;
    /// null (and nothing removed) when the path is not such a directory.
    /// </summary>
    private static byte[]? TakeRecordOfEmptyDirectory(string backingDir)
    {
        if (!BackingFs.TryStat(backingDir, out var status) || !status.IsDirectory
            || Directory.EnumerateFileSystemEntries(backingDir).Any(e => Path.GetFileName(e) != DirectoryRecord.FileName))
        {
            return null;
        }

        var recordPath = Path.Combine(backingDir, DirectoryRecord.FileName);
        var record = File.ReadAllBytes(recordPath);
        BackingFs.Unlink(recordPath);
        return record;
    }

    private static void WriteSidecarIfLong(Resolved entry)
    {
        if (entry.IsLongName)
        {
            File.WriteAllText(entry.SidecarPath, entry.EncryptedName, System.Text.Encoding.ASCII);
        }
    }

    private static void RemoveSidecarIfLong(Resolved entry)
    {
        if (entry.IsLongName && !BackingFs.TryStat(entry.BackingPath, out _))
        {
            TryDelete(entry.SidecarPath);
        }
    }

    private static void ApplyOwner(string backing, CreateOptions options)
    {
        // Entries are created with our own ids: change them only when the caller's differ.
        bool otherUid = options.Uid is { } uid && uid != BackingFs.EffectiveUid;
        bool otherGid = options.Gid is { } gid && gid != BackingFs.EffectiveGid;
        if ((otherUid || otherGid) && BackingFs.IsRoot)
        {
            BackingFs.Chown(backing, options.Uid ?? uint.MaxValue, options.Gid ?? uint.MaxValue);
        }
    }

    private static void TryDelete(string backing)
    {
        try
        {
            File.Delete(backing);
        }
        catch (IOException)
        {
        }
    }

    private static void MapErrors(string path, Action action)
    {
        try
        {
            action();
        }
        catch (FsException e)
        {
            throw new FsException(e.Errno, $"'{path}': {FsException.Describe(e.Errno)}", e);
        }
    }
}

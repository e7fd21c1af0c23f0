using System.Security.Cryptography;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Import;

/// <summary>A plaintext entry an in-place import left where it was, and why.</summary>
public readonly record struct LeftBehind(string Path, string Reason);

/// <summary>What an in-place import did; <see cref="Complete"/> when no plaintext is left.</summary>
public sealed record InPlaceImportResult(
    ImportProgress Progress,
    long FilesMoved,
    long Symlinks,
    long HardLinks,
    long Shredded,
    long DirectoriesRemoved,
    IReadOnlyList<LeftBehind> LeftBehind,
    IReadOnlyList<string> LinkedOutside)
{
    public bool Complete => LeftBehind.Count == 0;
}

/// <summary>
/// Moves a plaintext tree into a volume, one entry at a time: encrypt, make durable, read back
/// through the volume and compare with the source, and only then remove the plaintext. The
/// <see cref="ImportJournal"/> in the source root records each step before it is taken, so a run
/// stopped at any instant is finished by running it again (docs/IMPORT.md gives the argument).
/// </summary>
public sealed class InPlaceImporter
{
    /// <summary>
    /// What a plaintext name is renamed to just before it is unlinked: the entry is checked under
    /// this private name, where no one can swap it for another file between check and unlink.
    /// </summary>
    public const string RemovingName = ".efs-import-removing";

    private const int ChunkSize = 1 << 20;
    private readonly EncryptedVolume _volume;
    private readonly string? _scope;
    private readonly bool _shred;
    private readonly List<LeftBehind> _leftBehind = [];
    private readonly Dictionary<(ulong Device, ulong Inode), string> _importedLinks = [];
    private readonly Dictionary<(ulong Device, ulong Inode), (string Path, uint OtherNames)> _removedLinked = [];
    private readonly byte[] _buffer = new byte[ChunkSize];
    private ImportJournal? _journal;
    private string _sourceRoot = "/";
    private string _targetRoot = "/";
    private ulong _sourceDevice;
    private bool _volumeUnsynced;
    private ImportProgress _progress;
    private long _filesMoved, _symlinks, _hardLinks, _shredded, _directoriesRemoved;

    public InPlaceImporter(EncryptedVolume volume, string? scope = null, bool shred = false)
    {
        _volume = volume;
        _scope = scope;
        _shred = shred;
    }

    /// <summary>
    /// Called with the name of each step just completed ("chunk", "copied", "read-back", "verified",
    /// "shredded", "removed", "directory"): lets crash tests stop the process between any two.
    /// </summary>
    public Action<string>? Checkpoint { get; init; }

    public InPlaceImportResult Run(string sourceDir, string targetPath, IProgress<ImportProgress>? progress, CancellationToken cancel)
    {
        _sourceRoot = Path.GetFullPath(sourceDir);
        _targetRoot = targetPath;
        var (files, bytes) = Count(_sourceRoot, BackingFs.Stat(_sourceRoot + "/.").Device, isRoot: true);
        _progress = new ImportProgress(0, files, 0, bytes, 0);
        using (_journal = ImportJournal.OpenOrCreate(_sourceRoot, _volume.Header.VolumeId, targetPath))
        {
            try
            {
                using var root = BackingFs.Open(_sourceRoot + "/.", Libc.O_RDONLY | Libc.O_DIRECTORY);
                var rootStatus = BackingFs.Stat(root);
                _sourceDevice = rootStatus.Device;
                if (EnsureVolumeDirectory(targetPath, rootStatus, string.Empty))
                {
                    ImportDirectory(root, string.Empty, isRoot: true, progress, cancel);
                }

                if (_leftBehind.Count == 0)
                {
                    _journal.Delete();
                }
            }
            catch (FsException e)
            {
                // From here on the import may have changed things: this is a failure to finish,
                // never a refusal that left everything as it was (whatever the errno suggests).
                throw new IOException($"{e.Message}; the import stopped, and its journal keeps the state: fix the cause and run the same command again", e);
            }
        }

        progress?.Report(_progress);
        return new InPlaceImportResult(_progress, _filesMoved, _symlinks, _hardLinks, _shredded, _directoriesRemoved, _leftBehind,
            [.. _removedLinked.Values.Where(v => v.OtherNames > 0).Select(v => v.Path).Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// Imports the entries of the directory <paramref name="directory"/> refers to. Every step on
    /// an entry goes through that descriptor (fstatat, openat, renameat, unlinkat, never following
    /// a symlink), so swapping a directory of the tree for a symlink while the import runs cannot
    /// point any read, overwrite or unlink at a file outside the tree.
    /// </summary>
    private void ImportDirectory(SafeFileHandle directory, string relative, bool isRoot, IProgress<ImportProgress>? progress, CancellationToken cancel)
    {
        foreach (var name in ListNames(directory))
        {
            cancel.ThrowIfCancellationRequested();
            if (isRoot && name == ImportJournal.FileName)
            {
                continue;
            }

            var entry = relative + "/" + name;
            if (name == RemovingName)
            {
                FinishInterruptedRemoval(directory, entry);
                continue;
            }

            if (!BackingFs.TryStatAt(directory, name, out var status))
            {
                // Gone since the listing (nothing to move), or a name that is not UTF-8, which
                // comes back from the listing altered and so cannot be opened by it.
                if (name.Contains('\uFFFD', StringComparison.Ordinal))
                {
                    Leave(entry, "its name is not valid UTF-8: not imported (rename it)");
                }

                continue;
            }

            if (status.IsDirectory && status.Device != _sourceDevice)
            {
                // Another filesystem mounted in the tree is not part of the data on this one.
                Leave(entry, "another filesystem is mounted here: not imported (import it on its own)");
            }
            else if (status.IsDirectory)
            {
                if (EnsureVolumeDirectory(VolumePath(entry), status, entry))
                {
                    using var inner = OpenDirectory(directory, name, status);
                    if (inner is null)
                    {
                        Leave(entry, "replaced during the import: not imported (run again when it is quiet)");
                        continue;
                    }

                    ImportDirectory(inner, entry, isRoot: false, progress, cancel);
                    RemoveIfEmpty(directory, inner, name, entry);
                }
            }
            else if (status.IsSymlink)
            {
                ImportSymlink(directory, name, entry, status);
            }
            else if (status.IsRegular)
            {
                bool alreadyThere = ImportFile(directory, name, entry, status, cancel);
                _progress = _progress with
                {
                    FilesDone = _progress.FilesDone + 1,
                    BytesDone = _progress.BytesDone + status.Size,
                    FilesSkipped = _progress.FilesSkipped + (alreadyThere ? 1 : 0),
                };
                progress?.Report(_progress);
            }
            else
            {
                Leave(entry, "not a regular file, directory or symlink (device, FIFO or socket): not imported");
            }
        }
    }

    /// <summary>The names in a directory, read through its descriptor (not through a path that may have been swapped since).</summary>
    private static List<string> ListNames(SafeFileHandle directory) =>
        [.. Directory.EnumerateFileSystemEntries($"/proc/self/fd/{directory.DangerousGetHandle()}")
            .Select(path => Path.GetFileName(path))
            .Order(StringComparer.Ordinal)];

    /// <summary>Opens a subdirectory without following a symlink; null unless it is still the directory that was examined.</summary>
    private static SafeFileHandle? OpenDirectory(SafeFileHandle parent, string name, FileStatus examined)
    {
        SafeFileHandle handle;
        try
        {
            handle = BackingFs.OpenAt(parent, name, Libc.O_RDONLY | Libc.O_DIRECTORY);
        }
        catch (FsException e) when (e.Errno is Errno.ENOENT or Errno.ELOOP or Errno.ENOTDIR)
        {
            return null;
        }

        var now = BackingFs.Stat(handle);
        if (now.Device != examined.Device || now.Inode != examined.Inode)
        {
            handle.Dispose();
            return null;
        }

        return handle;
    }

    /// <summary>Moves one regular file; returns whether it was moved with a volume copy that was already there.</summary>
    private bool ImportFile(SafeFileHandle directory, string name, string relative, FileStatus before, CancellationToken cancel)
    {
        var journal = _journal!;
        var volumePath = VolumePath(relative);
        var existing = VolumeStatus(volumePath);
        if (journal.IsShredding(relative, before) && existing is { IsRegular: true } && IsPartlyOverwrittenCopy(directory, name, before, volumePath))
        {
            // Verified and synced before the overwrite began: the plaintext is no longer the data.
            if (Shred(directory, name, relative, before, alreadyRecorded: true) is not { } resumed
                || !Remove(directory, name, relative, resumed))
            {
                return false;
            }

            journal.RecordRemoved(relative);
            _filesMoved++;
            return true;
        }

        bool ours = journal.WasCopied(relative);
        bool alreadyThere = existing is not null;
        if (existing is { } found)
        {
            if (!found.IsRegular)
            {
                Leave(relative, ours ? "the volume holds a non-file at its path" : "the volume already holds another kind of entry at this path");
                return false;
            }

            // A copy of ours that a crash may have cut short is redone unless size and time
            // (set last) show it finished; someone else's file is never replaced, only compared,
            // and neither is one verified once: its plaintext may be gone, this file is new.
            if (ours && !journal.WasVerified(relative) && (found.Size != before.Size || found.ModifyTime != before.ModifyTime))
            {
                _volume.Unlink(volumePath);
                alreadyThere = false;
            }
        }

        byte[]? sourceHash = null;
        bool linked = false;
        if (!alreadyThere)
        {
            journal.RecordCopy(relative);
            if (LinkedCopy(before) is { } firstLink)
            {
                _volume.Link(firstLink, volumePath);
                linked = true;
            }
            else
            {
                sourceHash = Copy(directory, name, before, volumePath, cancel);
            }

            _volumeUnsynced = true;
        }

        MakeVolumeDurable();
        Checkpoint?.Invoke("copied");

        sourceHash ??= HashSource(directory, name, before, cancel);
        if (sourceHash is null || !SameFile(before, StatAt(directory, name)))
        {
            Leave(relative, "changed during the import: not removed (run again when it is quiet)");
            return false;
        }

        var volumeHash = HashVolume(volumePath, before.Size, cancel);
        if (linked && !volumeHash.AsSpan().SequenceEqual(sourceHash))
        {
            // The inode number was freed and reused by another file since: not a link after all.
            _volume.Unlink(volumePath);
            linked = false;
            if (Copy(directory, name, before, volumePath, cancel) is not { } copiedHash)
            {
                Leave(relative, "changed during the import: not removed (run again when it is quiet)");
                return false;
            }

            sourceHash = copiedHash;
            _volumeUnsynced = true;
            MakeVolumeDurable();
            volumeHash = HashVolume(volumePath, before.Size, cancel);
        }

        if (!volumeHash.AsSpan().SequenceEqual(sourceHash))
        {
            Leave(relative, journal.WasVerified(relative) && alreadyThere
                ? "differs from the copy of this path the import already verified and keeps: not removed (move it aside, import it separately)"
                : ours || !alreadyThere
                ? "the volume copy reads back different from the source: not removed"
                : "the volume already holds a different file at this path: not removed");
            return false;
        }

        Checkpoint?.Invoke("read-back");

        // Checked again last, right before the record that allows the removal: a file renamed
        // over this name or written to while its copy was read back is not the one verified.
        if (!SameFile(before, StatAt(directory, name)))
        {
            Leave(relative, "changed during the import: not removed (run again when it is quiet)");
            return false;
        }

        if (linked)
        {
            _hardLinks++;
        }

        journal.RecordVerified(relative, before);
        _importedLinks[(before.Device, before.Inode)] = volumePath;
        Checkpoint?.Invoke("verified");
        var removing = before;
        if (_shred)
        {
            if (Shred(directory, name, relative, before, alreadyRecorded: false) is not { } overwritten)
            {
                return false;
            }

            removing = overwritten;
        }

        if (!Remove(directory, name, relative, removing))
        {
            return false;
        }

        journal.RecordRemoved(relative);
        _filesMoved++;
        var identity = (before.Device, before.Inode);
        if (before.LinkCount > 1 || _removedLinked.ContainsKey(identity))
        {
            // What is left of the other names once the import is through them tells whether
            // the plaintext is still reachable from outside the tree.
            var first = _removedLinked.TryGetValue(identity, out var seen) ? seen.Path : relative;
            _removedLinked[identity] = (first, before.LinkCount - 1);
        }

        return alreadyThere;
    }

    /// <summary>
    /// The volume path of an already imported name of the same plaintext file (same device and
    /// inode; its own link count has dropped as the others were removed), if it is still there.
    /// </summary>
    private string? LinkedCopy(FileStatus plaintext)
    {
        var identity = (plaintext.Device, plaintext.Inode);
        var volumePath = _importedLinks.TryGetValue(identity, out var found) ? found
            : _journal!.Verified.TryGetValue(identity, out var recorded) ? VolumePath(recorded)
            : null;
        return volumePath is not null && VolumeStatus(volumePath) is { IsRegular: true } ? volumePath : null;
    }

    /// <summary>Copies content, then mode, owner and times (the time last: it marks a finished copy); returns the source's hash.</summary>
    private byte[]? Copy(SafeFileHandle directory, string name, FileStatus before, string volumePath, CancellationToken cancel)
    {
        var mode = before.Mode & 0xFFF;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var input = OpenSource(directory, name, before))
        {
            if (input is null)
            {
                return null;
            }

            using var target = _volume.CreateFile(volumePath, new CreateOptions(mode | 0x80, before.Uid, before.Gid, _scope));
            long offset = 0;
            int read;
            while ((read = BackingFs.ReadAt(input, _buffer, offset)) > 0)
            {
                cancel.ThrowIfCancellationRequested();
                hash.AppendData(_buffer, 0, read);
                target.Write(offset, _buffer.AsSpan(0, read));
                offset += read;
                Checkpoint?.Invoke("chunk");
            }

            target.Sync();
        }

        _volume.SetMode(volumePath, mode);
        _volume.SetTimes(volumePath, before.AccessTime, before.ModifyTime);
        return hash.GetHashAndReset();
    }

    private byte[]? HashSource(SafeFileHandle directory, string name, FileStatus before, CancellationToken cancel)
    {
        using var input = OpenSource(directory, name, before);
        if (input is null)
        {
            return null;
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long offset = 0;
        int read;
        while ((read = BackingFs.ReadAt(input, _buffer, offset)) > 0)
        {
            cancel.ThrowIfCancellationRequested();
            hash.AppendData(_buffer, 0, read);
            offset += read;
        }

        return hash.GetHashAndReset();
    }

    private byte[] HashVolume(string volumePath, long expectedSize, CancellationToken cancel)
    {
        using var handle = _volume.OpenFile(volumePath, FileAccess.Read);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (handle.Length != expectedSize)
        {
            // Different lengths never hash alike; hashing the length too makes that explicit.
            hash.AppendData(BitConverter.GetBytes(handle.Length));
        }

        long offset = 0;
        int read;
        while ((read = handle.Read(offset, _buffer)) > 0)
        {
            cancel.ThrowIfCancellationRequested();
            hash.AppendData(_buffer, 0, read);
            offset += read;
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Opens the plaintext file without following a link; null when it is no longer the file that was examined.</summary>
    private static SafeFileHandle? OpenSource(SafeFileHandle directory, string name, FileStatus before, int access = Libc.O_RDONLY)
    {
        SafeFileHandle handle;
        try
        {
            handle = BackingFs.OpenAt(directory, name, access);
        }
        catch (FsException e) when (e.Errno is Errno.ENOENT or Errno.ELOOP)
        {
            return null;
        }

        if (!SameFile(before, BackingFs.Stat(handle)))
        {
            handle.Dispose();
            return null;
        }

        return handle;
    }

    private void ImportSymlink(SafeFileHandle directory, string name, string relative, FileStatus before)
    {
        var target = BackingFs.ReadLinkAt(directory, name);
        var volumePath = VolumePath(relative);
        bool ours = _journal!.WasCopied(relative) && !_journal.WasVerified(relative);
        if (VolumeStatus(volumePath) is { } existing)
        {
            bool same = existing.IsSymlink && _volume.ReadSymlink(volumePath) == target;
            if (!same && !ours)
            {
                Leave(relative, "the volume already holds a different entry at this path: not removed");
                return;
            }

            if (!same)
            {
                _volume.Unlink(volumePath);
            }
        }

        if (VolumeStatus(volumePath) is null)
        {
            _journal.RecordCopy(relative);
            _volume.CreateSymlink(volumePath, target, new CreateOptions(0x1FF, before.Uid, before.Gid, _scope));
            _volumeUnsynced = true;
        }

        MakeVolumeDurable();
        Checkpoint?.Invoke("copied");
        if (_volume.ReadSymlink(volumePath) != target || !SameFile(before, StatAt(directory, name)))
        {
            Leave(relative, "changed during the import: not removed (run again when it is quiet)");
            return;
        }

        _journal.RecordVerified(relative, before);
        if (Remove(directory, name, relative, before))
        {
            _symlinks++;
        }
    }

    /// <summary>Creates the volume directory if needed; false (and the subtree left) when a non-directory is in the way.</summary>
    private bool EnsureVolumeDirectory(string volumePath, FileStatus source, string relative)
    {
        if (VolumeStatus(volumePath) is not { } existing)
        {
            _volume.CreateDirectory(volumePath, new CreateOptions(source.Mode & 0xFFF, source.Uid, source.Gid, _scope));
            _volumeUnsynced = true;
            return true;
        }

        if (!existing.IsDirectory)
        {
            Leave(relative.Length == 0 ? "/" : relative, "the volume holds a non-directory where this directory goes: the subtree is not imported");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Overwrites the plaintext's blocks with zeros (best effort: see docs/IMPORT.md); returns the
    /// file's status afterwards, or null (and the entry left) when the name no longer holds the
    /// file that was verified.
    /// </summary>
    private FileStatus? Shred(SafeFileHandle directory, string name, string relative, FileStatus before, bool alreadyRecorded)
    {
        // Other names for the same data outside the import still need it: those are only unlinked.
        if (before.LinkCount > 1)
        {
            return before;
        }

        if (!alreadyRecorded)
        {
            _journal!.RecordShred(relative, before);
        }

        FileStatus after;
        using (var handle = OpenSource(directory, name, before, Libc.O_WRONLY))
        {
            if (handle is null)
            {
                Leave(relative, "replaced or changed before it was overwritten: not overwritten, not removed");
                return null;
            }

            Array.Clear(_buffer);
            for (long offset = 0; offset < before.Size; offset += ChunkSize)
            {
                BackingFs.WriteAt(handle, _buffer.AsSpan(0, (int)Math.Min(ChunkSize, before.Size - offset)), offset);
            }

            BackingFs.Fsync(handle);
            after = BackingFs.Stat(handle);
        }

        _shredded++;
        Checkpoint?.Invoke("shredded");
        return after;
    }

    /// <summary>
    /// Unlinks the entry if it is still <paramref name="expected"/>: renamed first to a private
    /// name, checked there, and only then unlinked, so no file renamed over the name in between is
    /// removed in its place. Otherwise it is put back, left and reported; returns whether it went.
    /// </summary>
    private bool Remove(SafeFileHandle directory, string name, string relative, FileStatus expected)
    {
        try
        {
            BackingFs.RenameAt(directory, name, RemovingName, Libc.RENAME_NOREPLACE);
        }
        catch (FsException e) when (e.Errno is Errno.EEXIST or Errno.ENOENT)
        {
            Leave(relative, e.Errno == Errno.EEXIST
                ? $"a leftover {RemovingName} is in its directory: not removed (run again)"
                : "gone or replaced before it was removed");
            return false;
        }

        // The rename itself moves the change time; everything else must be as checked.
        if (!BackingFs.TryStatAt(directory, RemovingName, out var now) || now.Device != expected.Device || now.Inode != expected.Inode
            || now.Size != expected.Size || now.ModifyTime != expected.ModifyTime)
        {
            PutBack(directory, name, relative);
            return false;
        }

        BackingFs.UnlinkAt(directory, RemovingName);
        Checkpoint?.Invoke("removed");
        BackingFs.Fsync(directory);
        return true;
    }

    private void PutBack(SafeFileHandle directory, string name, string relative)
    {
        try
        {
            BackingFs.RenameAt(directory, RemovingName, name, Libc.RENAME_NOREPLACE);
            Leave(relative, "replaced just before it was removed: not removed (run again when it is quiet)");
        }
        catch (FsException e) when (e.Errno == Errno.EEXIST)
        {
            Leave(relative, $"replaced just before it was removed, and its name taken again since: that file is now {RemovingName} in the same directory");
        }
    }

    /// <summary>
    /// A crash between the rename to <see cref="RemovingName"/> and the unlink leaves the entry
    /// under that name. It is removed only if it is a file the journal records as verified and its
    /// content is still that volume copy's (or zeros, where an overwrite was under way).
    /// </summary>
    private void FinishInterruptedRemoval(SafeFileHandle directory, string relative)
    {
        if (BackingFs.TryStatAt(directory, RemovingName, out var status) && status.IsRegular
            && _journal!.Verified.TryGetValue((status.Device, status.Inode), out var imported)
            && VolumeStatus(VolumePath(imported)) is { IsRegular: true }
            && OpenSource(directory, RemovingName, status) is { } handle)
        {
            bool matches;
            using (handle)
            {
                matches = IsVolumeCopyOrZeros(handle, VolumePath(imported));
            }

            if (matches && SameFile(status, StatAt(directory, RemovingName)))
            {
                BackingFs.UnlinkAt(directory, RemovingName);
                BackingFs.Fsync(directory);
                return;
            }
        }

        Leave(relative, "left by an interrupted removal, and not a verified copy of an imported file: check it and delete or rename it");
    }

    /// <summary>
    /// A <c>shred</c> record names a device and inode, and inode numbers are reused: the file is
    /// taken for the one being overwritten only if its content still is, chunk by chunk, the
    /// verified copy's or zeros.
    /// </summary>
    private bool IsPartlyOverwrittenCopy(SafeFileHandle directory, string name, FileStatus before, string volumePath)
    {
        using var handle = OpenSource(directory, name, before);
        return handle is not null && IsVolumeCopyOrZeros(handle, volumePath);
    }

    /// <summary>Whether every chunk of the plaintext is either all zeros or equal to the volume copy's, and the sizes match.</summary>
    private bool IsVolumeCopyOrZeros(SafeFileHandle plaintext, string volumePath)
    {
        using var copy = _volume.OpenFile(volumePath, FileAccess.Read);
        if (copy.Length != BackingFs.Stat(plaintext).Size)
        {
            return false;
        }

        var stored = new byte[ChunkSize];
        long offset = 0;
        int read;
        while ((read = BackingFs.ReadAt(plaintext, _buffer, offset)) > 0)
        {
            var chunk = _buffer.AsSpan(0, read);
            if (copy.Read(offset, stored.AsSpan(0, read)) != read
                || (!chunk.SequenceEqual(stored.AsSpan(0, read)) && chunk.ContainsAnyExcept((byte)0)))
            {
                return false;
            }

            offset += read;
        }

        return offset == copy.Length;
    }

    private void RemoveIfEmpty(SafeFileHandle parent, SafeFileHandle directory, string name, string relative)
    {
        if (ListNames(directory).Count > 0)
        {
            return;
        }

        MakeVolumeDurable();
        try
        {
            BackingFs.UnlinkAt(parent, name, isDirectory: true);
        }
        catch (FsException e) when (e.Errno is Errno.ENOTEMPTY or Errno.EEXIST or Errno.EBUSY or Errno.ENOENT or Errno.ENOTDIR)
        {
            // Something appeared in it, or the name now holds another entry, since it was
            // emptied: that is the owner's, and stays.
            Leave(relative, "the directory changed while it was emptied: not removed (run again when it is quiet)");
            return;
        }

        _directoriesRemoved++;
        Checkpoint?.Invoke("directory");
        BackingFs.Fsync(parent);
    }

    private static FileStatus StatAt(SafeFileHandle directory, string name) =>
        BackingFs.TryStatAt(directory, name, out var status) ? status : default;

    /// <summary>
    /// syncfs(2) on the backing filesystem before any plaintext goes: it covers everything the
    /// volume wrote for the entry (content, header, directory records, long-name sidecars, the
    /// directory entries themselves) without relying on which of those the volume fsyncs itself.
    /// </summary>
    private void MakeVolumeDurable()
    {
        if (_volumeUnsynced)
        {
            BackingFs.SyncFileSystem(_volume.BackingDirectory);
            _volumeUnsynced = false;
        }
    }

    private void Leave(string relative, string reason) => _leftBehind.Add(new LeftBehind(relative, reason));

    private string VolumePath(string relative) =>
        relative.Length == 0 ? _targetRoot : _targetRoot.TrimEnd('/') + relative;

    private FileStatus? VolumeStatus(string volumePath)
    {
        try
        {
            return _volume.GetStatus(volumePath);
        }
        catch (FsException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
    }

    /// <summary>Same file, unchanged: a write or metadata change moves the change time, which no one can set back.</summary>
    private static bool SameFile(FileStatus before, FileStatus now) =>
        now.Device == before.Device && now.Inode == before.Inode && now.Size == before.Size
        && now.ModifyTime == before.ModifyTime && now.ChangeTime == before.ChangeTime;

    private static (long Files, long Bytes) Count(string directory, ulong device, bool isRoot)
    {
        long files = 0, bytes = 0;
        foreach (var path in Directory.EnumerateFileSystemEntries(directory))
        {
            if ((isRoot && Path.GetFileName(path) == ImportJournal.FileName) || Path.GetFileName(path) == RemovingName)
            {
                continue;
            }

            if (!BackingFs.TryStat(path, out var status))
            {
                continue;
            }

            if (status.IsDirectory && status.Device == device)
            {
                var (innerFiles, innerBytes) = Count(path, device, isRoot: false);
                files += innerFiles;
                bytes += innerBytes;
            }
            else if (status.IsRegular)
            {
                files++;
                bytes += status.Size;
            }
        }

        return (files, bytes);
    }
}

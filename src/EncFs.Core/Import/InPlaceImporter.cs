using System.Security.Cryptography;
using EncFs.Core.Backing;
using EncFs.Core.Volume;

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
    /// Called with the name of each step just completed ("chunk", "copied", "verified",
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
            var rootStatus = BackingFs.Stat(_sourceRoot + "/.");
            _sourceDevice = rootStatus.Device;
            if (EnsureVolumeDirectory(targetPath, rootStatus, string.Empty))
            {
                ImportDirectory(_sourceRoot, string.Empty, isRoot: true, progress, cancel);
            }

            if (_leftBehind.Count == 0)
            {
                _journal.Delete();
            }
        }

        progress?.Report(_progress);
        return new InPlaceImportResult(_progress, _filesMoved, _symlinks, _hardLinks, _shredded, _directoriesRemoved, _leftBehind,
            [.. _removedLinked.Values.Where(v => v.OtherNames > 0).Select(v => v.Path).Order(StringComparer.Ordinal)]);
    }

    private void ImportDirectory(string source, string relative, bool isRoot, IProgress<ImportProgress>? progress, CancellationToken cancel)
    {
        foreach (var name in Directory.EnumerateFileSystemEntries(source).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal))
        {
            cancel.ThrowIfCancellationRequested();
            if (isRoot && name == ImportJournal.FileName)
            {
                continue;
            }

            var path = Path.Combine(source, name!);
            var entry = relative + "/" + name;
            if (!BackingFs.TryStat(path, out var status))
            {
                // Gone since the listing (nothing to move), or a name that is not UTF-8, which
                // comes back from the listing altered and so cannot be opened by it.
                if (name!.Contains('\uFFFD', StringComparison.Ordinal))
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
                    ImportDirectory(path, entry, isRoot: false, progress, cancel);
                    RemoveIfEmpty(path);
                }
            }
            else if (status.IsSymlink)
            {
                ImportSymlink(path, entry, status);
            }
            else if (status.IsRegular)
            {
                bool alreadyThere = ImportFile(path, entry, status, cancel);
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

    /// <summary>Moves one regular file; returns whether it was moved with a volume copy that was already there.</summary>
    private bool ImportFile(string path, string relative, FileStatus before, CancellationToken cancel)
    {
        var journal = _journal!;
        var volumePath = VolumePath(relative);
        if (journal.IsShredding(relative, before))
        {
            // Verified and synced before the overwrite began: the plaintext is no longer the data.
            Shred(path, relative, before, alreadyRecorded: true);
            Remove(path);
            _filesMoved++;
            return true;
        }

        var existing = VolumeStatus(volumePath);
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
            // (set last) show it finished; someone else's file is never replaced, only compared.
            if (ours && (found.Size != before.Size || found.ModifyTime != before.ModifyTime))
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
                sourceHash = Copy(path, before, volumePath, cancel);
            }

            _volumeUnsynced = true;
        }

        MakeVolumeDurable();
        Checkpoint?.Invoke("copied");

        sourceHash ??= HashSource(path, before, cancel);
        if (sourceHash is null || !SameFile(before, BackingFs.Stat(path)))
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
            if (Copy(path, before, volumePath, cancel) is not { } copiedHash)
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
            Leave(relative, ours || !alreadyThere
                ? "the volume copy reads back different from the source: not removed"
                : "the volume already holds a different file at this path: not removed");
            return false;
        }

        if (linked)
        {
            _hardLinks++;
        }

        journal.RecordVerified(relative, before);
        _importedLinks[(before.Device, before.Inode)] = volumePath;
        Checkpoint?.Invoke("verified");
        if (_shred)
        {
            Shred(path, relative, before, alreadyRecorded: false);
        }

        Remove(path);
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
    private byte[]? Copy(string path, FileStatus before, string volumePath, CancellationToken cancel)
    {
        var mode = before.Mode & 0xFFF;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var input = OpenSource(path, before))
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

    private byte[]? HashSource(string path, FileStatus before, CancellationToken cancel)
    {
        using var input = OpenSource(path, before);
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
    private static Microsoft.Win32.SafeHandles.SafeFileHandle? OpenSource(string path, FileStatus before)
    {
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = BackingFs.Open(path, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC);
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

    private void ImportSymlink(string path, string relative, FileStatus before)
    {
        var target = BackingFs.ReadLink(path);
        var volumePath = VolumePath(relative);
        bool ours = _journal!.WasCopied(relative);
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
        if (_volume.ReadSymlink(volumePath) != target || !SameFile(before, BackingFs.Stat(path)))
        {
            Leave(relative, "changed during the import: not removed (run again when it is quiet)");
            return;
        }

        _symlinks++;
        Remove(path);
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

    /// <summary>Overwrites the plaintext's blocks with zeros (best effort: see docs/IMPORT.md).</summary>
    private void Shred(string path, string relative, FileStatus before, bool alreadyRecorded)
    {
        // Other names for the same data outside the import still need it: those are only unlinked.
        if (before.LinkCount > 1)
        {
            return;
        }

        if (!alreadyRecorded)
        {
            _journal!.RecordShred(relative, before);
        }

        using (var handle = BackingFs.Open(path, Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC))
        {
            Array.Clear(_buffer);
            for (long offset = 0; offset < before.Size; offset += ChunkSize)
            {
                BackingFs.WriteAt(handle, _buffer.AsSpan(0, (int)Math.Min(ChunkSize, before.Size - offset)), offset);
            }

            BackingFs.Fsync(handle);
        }

        _shredded++;
        Checkpoint?.Invoke("shredded");
    }

    private void Remove(string path)
    {
        BackingFs.Unlink(path);
        Checkpoint?.Invoke("removed");
        BackingFs.FsyncDirectory(Path.GetDirectoryName(path)!);
    }

    private void RemoveIfEmpty(string directory)
    {
        if (Directory.EnumerateFileSystemEntries(directory).Any())
        {
            return;
        }

        MakeVolumeDurable();
        BackingFs.Rmdir(directory);
        _directoriesRemoved++;
        Checkpoint?.Invoke("directory");
        BackingFs.FsyncDirectory(Path.GetDirectoryName(directory)!);
    }

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
            if (isRoot && Path.GetFileName(path) == ImportJournal.FileName)
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

using System.Diagnostics;
using EncFs.Core.Audit;
using EncFs.Core.Backing;
using EncFs.Core.Content;
using EncFs.Core.Format;
using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>Progress of a re-encryption pass: entries looked at, files and bytes rewritten.</summary>
public readonly record struct ReencryptionProgress(long EntriesScanned, long FilesRewritten, long BytesRewritten, long SymlinksRewritten, long DirectoriesRekeyed, long Problems);

/// <summary>What a re-encryption pass did, and which old DEK generations it destroyed or had to keep.</summary>
public sealed record ReencryptionReport(ReencryptionProgress Progress, IReadOnlyList<string> Destroyed, IReadOnlyList<string> Kept, IReadOnlyList<string> Problems);

/// <summary>
/// Background re-encryption after a DEK rotation: files and symlinks still under an older
/// generation of their scope are rewritten under the current one; an old generation no entry
/// uses any more is destroyed (removed from the header, its keys zeroed).
/// </summary>
public sealed partial class EncryptedVolume
{
    private const string JobMarker = "efs.reencrypt.job";
    private const string LinkTemp = "efs.reencrypt.link";

    /// <summary>The scope (or "*" for all) of a re-encryption that was started and not finished; null when none.</summary>
    public string? PendingReencryption =>
        File.Exists(Path.Combine(BackingDirectory, JobMarker)) ? File.ReadAllText(Path.Combine(BackingDirectory, JobMarker)).Trim() : null;

    /// <summary>
    /// Rewrites every file and symlink of <paramref name="scope"/> (all scopes when null) that
    /// uses an older DEK generation, at most <paramref name="bytesPerSecond"/> (0: unthrottled).
    /// Safe to interrupt anywhere: a marker makes the next mount resume, and the one file being
    /// rewritten is rolled back from its undo record. With <paramref name="rekeyDirectories"/>,
    /// which needs the volume to itself (unmounted), directory names are re-keyed too and old
    /// generations a complete scan found unused are destroyed.
    /// </summary>
    public ReencryptionReport Reencrypt(string? scope, bool rekeyDirectories, long bytesPerSecond, IProgress<ReencryptionProgress>? progress, CancellationToken cancel)
    {
        RequireWritable();
        var scopeId = scope is null ? (Guid128?)null : Guid128.Parse(_keyring.ScopeByNameOrId(scope).Id);
        AtomicFile.Write(Path.Combine(BackingDirectory, JobMarker), System.Text.Encoding.UTF8.GetBytes(scopeId?.ToString() ?? "*"), 0x180);
        var pass = new ReencryptionPass(this, scopeId, rekeyDirectories, bytesPerSecond, progress, cancel);
        pass.Walk("/");
        // Only a pass with the volume to itself can know nothing uses a generation: on a mounted
        // volume an entry renamed behind the walk would be missed.
        var (destroyed, kept) = pass.Problems.Count > 0 ? ([], ["none destroyed: the scan was incomplete"])
            : !rekeyDirectories ? ([], ["none destroyed: old generations are destroyed by a pass on the unmounted volume"])
            : DestroyUnusedGenerations(scopeId, pass.InUse);
        if (pass.Problems.Count == 0)
        {
            BackingFs.Unlink(Path.Combine(BackingDirectory, JobMarker));
        }

        progress?.Report(pass.Progress);
        AuditLog.Write(new AuditEvent("reencrypt", pass.Problems.Count == 0 ? "ok" : "partial", scope, Detail: $"{pass.Progress.FilesRewritten} file(s), {pass.Progress.SymlinksRewritten} symlink(s) rewritten; destroyed {string.Join(", ", destroyed)}"));
        return new ReencryptionReport(pass.Progress, destroyed, kept, pass.Problems);
    }

    /// <summary>Rewrites one file under its scope's current generation and returns its size; -1 when it already uses it.</summary>
    internal long ReencryptFile(string path, CancellationToken cancel)
    {
        RequireWritable();
        var backing = BackingPathOf(path);
        var header = ReadFileHeader(backing, path);
        var scope = _keyring.Scope(header.ScopeId);
        if (header.Generation == scope.CurrentGeneration)
        {
            return -1;
        }

        using var handle = OpenFile(path, FileAccess.ReadWrite);
        FileNode node;
        lock (_nodesLock)
        {
            node = _nodes[handle.GetStatus().Inode];
        }

        var oldNames = _keyring.Get(header.ScopeId, header.Generation).Names;
        var keys = CurrentKeys(scope);
        var layout = new SectorLayout(header.SectorSize, header.Infrastructure);
        var newHeader = FileHeader.ForNewFile(keys.ScopeId, keys.Generation, layout);
        var bytes = new byte[FileHeader.Size];
        newHeader.WriteFixedPart(bytes);
        var before = BackingFs.Stat(backing);
        var pinned = ReencryptionUndo.PinPath(BackingDirectory);
        node.Reencrypt(
            new FileCipher(keys, newHeader.FileId, layout),
            _keyring.Gate(keys.ScopeId),
            bytes,
            saveUndo: file =>
            {
                _xattrLock.EnterReadLock();
                try
                {
                    ReencryptionUndo.Save(BackingDirectory, backing, file);
                }
                finally
                {
                    _xattrLock.ExitReadLock();
                }
            },
            commit: (file, writeHeader) =>
            {
                // The header and the attributes change keys together: no attribute call sees one
                // without the other. Through the pin, which no rename can move.
                _xattrLock.EnterWriteLock();
                try
                {
                    writeHeader();
                    foreach (var (name, value) in StoredXattrs(pinned))
                    {
                        var encrypted = name[BackingXattrPrefix.Length..];
                        if (oldNames.TryDecryptXattrName(encrypted) is not { } plainName || oldNames.TryOpenXattrValue(encrypted, value) is not { } plainValue)
                        {
                            throw new FsException(Errno.EIO, $"'{path}': an extended attribute failed authentication (tampered); not re-encrypted");
                        }

                        var newName = EncryptXattrName(keys.Names, plainName);
                        BackingFs.SetXattr(pinned, BackingXattrPrefix + newName, keys.Names.SealXattrValue(newName, plainValue), 0);
                        BackingFs.RemoveXattr(pinned, name);
                    }

                    // Re-encryption is not a change of the file's content: its times stay as they were.
                    BackingFs.SetTimes(file, before.AccessTime, before.ModifyTime);
                    BackingFs.Fsync(file);
                    ReencryptionUndo.Discard(BackingDirectory);
                }
                finally
                {
                    _xattrLock.ExitWriteLock();
                }
            },
            rollBack: file => ReencryptionUndo.Restore(BackingDirectory, file),
            cancel);
        return node.Size;
    }

    /// <summary>The entry's stored (encrypted) attributes of ours, as they are on the backing filesystem.</summary>
    internal static List<(string Name, byte[] Value)> StoredXattrs(string backing) =>
        [.. BackingFs.ListXattr(backing).Where(n => n.StartsWith(BackingXattrPrefix, StringComparison.Ordinal))
            .Select(n => (n, BackingFs.GetXattr(backing, n) ?? []))];

    /// <summary>Rewrites one symlink's target under its scope's current generation (a new link renamed over the old).</summary>
    internal bool ReencryptSymlink(string path)
    {
        RequireWritable();
        var backing = BackingPathOf(path);
        if (ReadStoredSymlink(backing) is not var (scopeId, generation, _))
        {
            return false;
        }

        var scope = _keyring.Scope(scopeId);
        if (generation == scope.CurrentGeneration)
        {
            return false;
        }

        var target = TryReadSymlink(backing, throwOnLocked: true)
            ?? throw new FsException(Errno.EIO, $"'{path}': symlink target failed authentication (tampered or damaged); not re-encrypted");
        var stored = StoredSymlinkTarget(CurrentKeys(scope), target);
        var status = BackingFs.Stat(backing);
        var temp = Path.Combine(BackingDirectory, LinkTemp);
        if (BackingFs.TryStat(temp, out _))
        {
            BackingFs.Unlink(temp);
        }

        BackingFs.Symlink(stored, temp);
        BackingFs.Chown(temp, status.Uid, status.Gid);
        BackingFs.SetTimes(temp, status.AccessTime, status.ModifyTime);
        BackingFs.Rename(temp, backing);
        BackingFs.FsyncDirectory(Path.GetDirectoryName(backing)!);
        return true;
    }

    private (List<string> Destroyed, List<string> Kept) DestroyUnusedGenerations(Guid128? only, HashSet<(Guid128, int)> inUse)
    {
        var destroyed = new List<string>();
        var kept = new List<string>();
        lock (_headerLock)
        {
            DestroyUnused(only, inUse, destroyed, kept);
        }

        return (destroyed, kept);
    }

    private void DestroyUnused(Guid128? only, HashSet<(Guid128, int)> inUse, List<string> destroyed, List<string> kept)
    {
        foreach (var scope in Header.Scopes.Where(s => only is null || Guid128.Parse(s.Id) == only))
        {
            var scopeId = Guid128.Parse(scope.Id);
            foreach (var old in scope.Keys.Where(k => k.Generation != scope.CurrentGeneration).ToList())
            {
                if (inUse.Contains((scopeId, old.Generation)))
                {
                    kept.Add($"{scope.Name} generation {old.Generation} (still in use)");
                    continue;
                }

                scope.Keys.Remove(old);
                try
                {
                    SaveHeader();
                }
                catch
                {
                    scope.Keys.Add(old);
                    throw;
                }

                _keyring.RetireGeneration(scopeId, old.Generation);
                destroyed.Add($"{scope.Name} generation {old.Generation}");
                AuditLog.Write(new AuditEvent("dek-destroy", "ok", scope.Name, old.KekId, old.KekVersion, old.Generation, "no entry uses it any more"));
                _logger.LogInformation("Scope {Scope}: DEK generation {Generation} destroyed (nothing uses it)", scope.Name, old.Generation);
            }
        }
    }

    /// <summary>One walk over the tree: rewrites what is old, records which generations are still in use.</summary>
    private sealed class ReencryptionPass(EncryptedVolume volume, Guid128? scope, bool rekeyDirectories, long bytesPerSecond, IProgress<ReencryptionProgress>? progress, CancellationToken cancel)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastReport;

        public ReencryptionProgress Progress { get; private set; }

        public HashSet<(Guid128, int)> InUse { get; } = [];

        public List<string> Problems { get; } = [];

        public void Walk(string directory)
        {
            IReadOnlyList<DirectoryEntry> entries;
            try
            {
                entries = volume.ReadDirectory(directory);
            }
            catch (FsException e)
            {
                Problem(directory, e);
                return;
            }

            foreach (var entry in entries)
            {
                cancel.ThrowIfCancellationRequested();
                if (entry.Name is "." or "..")
                {
                    continue;
                }

                var path = directory == "/" ? "/" + entry.Name : directory + "/" + entry.Name;
                try
                {
                    Visit(path);
                }
                catch (FsException e)
                {
                    Problem(path, e);
                }
            }

            // After its children, which are looked up by their names under the current record. A
            // re-key that fails stops the pass: its marker must stay for the next open to finish it.
            try
            {
                if (rekeyDirectories && (scope is null || scope == Guid128.Parse(volume.GetEncryptionStatus(directory).ScopeId)) && volume.RekeyDirectory(directory))
                {
                    Progress = Progress with { DirectoriesRekeyed = Progress.DirectoriesRekeyed + 1 };
                }
            }
            catch (FsException e)
            {
                throw new ReencryptionAbortedException($"re-keying directory '{directory}' failed: {e.Message}; the next open of the volume finishes it", e);
            }

            try
            {
                Note(directory);
            }
            catch (FsException e)
            {
                Problem(directory, e);
            }
        }

        private void Visit(string path)
        {
            var status = volume.GetEncryptionStatus(path);
            var id = Guid128.Parse(status.ScopeId);
            bool mine = scope is null || scope == id;
            switch (status.Kind)
            {
                case "directory":
                    Walk(path);
                    return;
                case "file" when mine:
                    long size = volume.ReencryptFile(path, cancel);
                    if (size >= 0)
                    {
                        Progress = Progress with { FilesRewritten = Progress.FilesRewritten + 1, BytesRewritten = Progress.BytesRewritten + size };
                        Throttle();
                    }

                    break;
                case "symlink" when mine && volume.ReencryptSymlink(path):
                    Progress = Progress with { SymlinksRewritten = Progress.SymlinksRewritten + 1 };
                    break;
            }

            Note(path);
        }

        /// <summary>Counts the entry and records the generation it uses now.</summary>
        private void Note(string path)
        {
            var status = volume.GetEncryptionStatus(path);
            InUse.Add((Guid128.Parse(status.ScopeId), status.DekGeneration));
            Progress = Progress with { EntriesScanned = Progress.EntriesScanned + 1 };
            if (_clock.ElapsedMilliseconds - _lastReport >= 200)
            {
                _lastReport = _clock.ElapsedMilliseconds;
                progress?.Report(Progress);
            }
        }

        private void Throttle()
        {
            if (bytesPerSecond <= 0)
            {
                return;
            }

            var due = TimeSpan.FromSeconds((double)Progress.BytesRewritten / bytesPerSecond) - _clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                cancel.WaitHandle.WaitOne(due);
            }
        }

        private void Problem(string path, FsException e)
        {
            Problems.Add($"{path}: {e.Message}");
            Progress = Progress with { Problems = Progress.Problems + 1 };
            volume._logger.LogWarning("Re-encryption skipped {Path}: {Reason}", path, e.Message);
        }
    }
}

using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Names;
using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>
/// Re-keying a directory: a new record under the scope's current generation, every child's
/// name (and the directory's extended attributes) encrypted again under it. Only on a volume
/// no mount serves (names change under the kernel's feet otherwise). Rolled forward after a
/// crash: the marker names the directory, the next record waits beside the current one, and
/// each name or attribute is moved once, whichever key it still opens with.
/// </summary>
public sealed partial class EncryptedVolume
{
    private const string RekeyMarker = "efs.rekey.dir";
    private const string NextRecordName = DirectoryRecord.FileName + ".next";

    /// <summary>Re-keys the directory at <paramref name="path"/>; false when it already uses its scope's current generation.</summary>
    internal bool RekeyDirectory(string path)
    {
        RequireWritable();
        RecoverDirectoryRekey(); // one re-key at a time: an unfinished one is finished first
        var backing = BackingPathOf(path);
        var record = LoadDirectory(backing, path);
        var scope = _keyring.Scope(record.ScopeId);
        if (record.Generation == scope.CurrentGeneration)
        {
            return false;
        }

        var times = BackingFs.Stat(backing);
        var keys = CurrentKeys(scope);
        var next = new DirectoryRecord(Guid128.NewRandom(), keys.ScopeId, keys.Generation, record.DenyOverride);
        var marker = Path.Combine(BackingDirectory, RekeyMarker);
        AtomicFile.Write(marker, System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(BackingDirectory, backing)));
        BackingFs.FsyncDirectory(BackingDirectory);
        AtomicFile.Write(Path.Combine(backing, NextRecordName), next.Encode(r =>
        {
            using var key = keys.DirectoryRecordKey(r.DirectoryId);
            return key.Span.ToArray();
        }), 0x1A4);
        BackingFs.FsyncDirectory(backing);
        FinishRekey(backing, record, next);
        BackingFs.SetTimes(backing, times.AccessTime, times.ModifyTime); // names changed, the listing did not
        return true;
    }

    /// <summary>At open: completes a directory re-key a crash interrupted.</summary>
    private void RecoverDirectoryRekey()
    {
        var marker = Path.Combine(BackingDirectory, RekeyMarker);
        if (!File.Exists(marker))
        {
            return;
        }

        var relative = File.ReadAllText(marker).Trim();
        var backing = Path.GetFullPath(Path.Combine(BackingDirectory, relative));
        if (!backing.StartsWith(TreeRoot, StringComparison.Ordinal) || !File.Exists(Path.Combine(backing, NextRecordName)))
        {
            // Stopped before the next record was written, or after it replaced the old one.
            BackingFs.Unlink(marker);
            return;
        }

        var current = ReadRecord(backing, DirectoryRecord.FileName);
        var next = ReadRecord(backing, NextRecordName);
        FinishRekey(backing, current, next);
        _logger.LogWarning("Re-keying of directory {Backing} was interrupted; it has been completed", relative);
    }

    private DirectoryRecord ReadRecord(string backing, string fileName)
    {
        var bytes = File.ReadAllBytes(Path.Combine(backing, fileName));
        var record = DirectoryRecord.Decode(bytes);
        using var key = _keyring.Get(record.ScopeId, record.Generation).DirectoryRecordKey(record.DirectoryId);
        return DirectoryRecord.Verify(bytes, key.Span)
            ? record
            : throw new InvalidDataException($"'{Path.Combine(backing, fileName)}' failed authentication (tampered)");
    }

    private void FinishRekey(string backing, DirectoryRecord current, DirectoryRecord next)
    {
        var oldNames = _keyring.Get(current.ScopeId, current.Generation).Names;
        var newNames = _keyring.Get(next.ScopeId, next.Generation).Names;
        MoveNames(backing, current, oldNames, next, newNames);
        MoveXattrs(backing, oldNames, newNames);
        BackingFs.FsyncDirectory(backing);
        BackingFs.Rename(Path.Combine(backing, NextRecordName), Path.Combine(backing, DirectoryRecord.FileName));
        BackingFs.FsyncDirectory(backing);
        ForgetDirectories(backing);
        BackingFs.Unlink(Path.Combine(BackingDirectory, RekeyMarker));
        BackingFs.FsyncDirectory(BackingDirectory);
    }

    /// <summary>Renames each child from its name under the current record to its name under the next one.</summary>
    private void MoveNames(string backing, DirectoryRecord current, NameCipher oldNames, DirectoryRecord next, NameCipher newNames)
    {
        Span<byte> oldId = stackalloc byte[Guid128.Size];
        Span<byte> newId = stackalloc byte[Guid128.Size];
        current.DirectoryId.WriteTo(oldId);
        next.DirectoryId.WriteTo(newId);
        foreach (var entryPath in Directory.EnumerateFileSystemEntries(backing).ToList())
        {
            var backingName = Path.GetFileName(entryPath);
            if (!IsEntryName(backingName))
            {
                continue;
            }

            var encrypted = EncryptedNameOf(entryPath, backingName);
            var name = encrypted is null ? null : oldNames.TryDecryptName(oldId, encrypted);
            if (name is null)
            {
                if (encrypted is null || newNames.TryDecryptName(newId, encrypted) is null)
                {
                    _logger.LogUndecryptableName(backingName, backing);
                }

                continue; // already moved, or not ours to move
            }

            var newEncrypted = newNames.EncryptName(newId, name);
            var newBacking = LongName.NeedsHashing(newEncrypted) ? LongName.Hashed(newEncrypted) : newEncrypted;
            var target = Path.Combine(backing, newBacking);
            if (LongName.IsHashed(newBacking))
            {
                AtomicFile.Write(target + LongName.SidecarSuffix, System.Text.Encoding.ASCII.GetBytes(newEncrypted), 0x1A4);
            }

            BackingFs.Rename(entryPath, target, Libc.RENAME_NOREPLACE);
            if (LongName.IsHashed(backingName))
            {
                BackingFs.Unlink(entryPath + LongName.SidecarSuffix);
            }
        }
    }

    /// <summary>The directory's own extended attributes, from the old name key to the new one.</summary>
    private static void MoveXattrs(string backing, NameCipher oldNames, NameCipher newNames)
    {
        foreach (var stored in BackingFs.ListXattr(backing).Where(n => n.StartsWith(BackingXattrPrefix, StringComparison.Ordinal)))
        {
            var encrypted = stored[BackingXattrPrefix.Length..];
            if (oldNames.TryDecryptXattrName(encrypted) is not { } name
                || oldNames.TryOpenXattrValue(encrypted, BackingFs.GetXattr(backing, stored) ?? []) is not { } value)
            {
                continue; // already under the new key
            }

            var newEncrypted = EncryptXattrName(newNames, name);
            BackingFs.SetXattr(backing, BackingXattrPrefix + newEncrypted, newNames.SealXattrValue(newEncrypted, value), 0);
            BackingFs.RemoveXattr(backing, stored);
        }
    }
}

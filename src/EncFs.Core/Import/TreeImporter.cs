using EncFs.Core.Backing;
using EncFs.Core.Volume;

namespace EncFs.Core.Import;

/// <summary>Progress of an import: files and bytes done out of the totals counted first.</summary>
public readonly record struct ImportProgress(long FilesDone, long FilesTotal, long BytesDone, long BytesTotal, long FilesSkipped);

/// <summary>
/// Encrypts an existing plaintext tree into a volume. The source is only read, so stopping at
/// any point loses nothing; running again resumes: a file whose size and modification time
/// already match was finished (the time is set last) and is skipped, anything else is redone.
/// </summary>
public sealed class TreeImporter
{
    private const int ChunkSize = 1 << 20;
    private readonly EncryptedVolume _volume;
    private readonly string? _scope;

    public TreeImporter(EncryptedVolume volume, string? scope = null)
    {
        _volume = volume;
        _scope = scope;
    }

    public ImportProgress Run(string sourceDir, string targetPath, IProgress<ImportProgress>? progress, CancellationToken cancel)
    {
        var source = Path.GetFullPath(sourceDir);
        var (files, bytes) = Count(source);
        var state = new ImportProgress(0, files, 0, bytes, 0);
        EnsureDirectory(targetPath, source);
        ImportDirectory(source, targetPath, ref state, progress, cancel);
        progress?.Report(state);
        return state;
    }

    private void ImportDirectory(string source, string target, ref ImportProgress state, IProgress<ImportProgress>? progress, CancellationToken cancel)
    {
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            cancel.ThrowIfCancellationRequested();
            var plainPath = target == "/" ? "/" + entry.Name : target + "/" + entry.Name;
            if (entry.LinkTarget is { } linkTarget)
            {
                if (!Exists(plainPath))
                {
                    _volume.CreateSymlink(plainPath, linkTarget, new CreateOptions(0x1FF, Scope: _scope));
                }
            }
            else if (entry is DirectoryInfo directory)
            {
                EnsureDirectory(plainPath, directory.FullName);
                ImportDirectory(directory.FullName, plainPath, ref state, progress, cancel);
            }
            else if (entry is FileInfo file)
            {
                bool copied = ImportFile(file, plainPath, cancel);
                state = state with
                {
                    FilesDone = state.FilesDone + 1,
                    BytesDone = state.BytesDone + file.Length,
                    FilesSkipped = state.FilesSkipped + (copied ? 0 : 1),
                };
                progress?.Report(state);
            }
        }
    }

    /// <summary>Copies one file unless a finished copy is already there; returns whether it copied.</summary>
    private bool ImportFile(FileInfo file, string plainPath, CancellationToken cancel)
    {
        var modified = ToUnixTime(file.LastWriteTimeUtc);
        if (Exists(plainPath))
        {
            var existing = _volume.GetStatus(plainPath);
            if (existing.Size == file.Length && existing.ModifyTime == modified)
            {
                return false;
            }

            _volume.Unlink(plainPath);
        }

        var mode = BackingFs.Stat(file.FullName).Mode & 0xFFF;
        using (var target = _volume.CreateFile(plainPath, new CreateOptions(mode | 0x80, Scope: _scope)))
        using (var input = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
        {
            var buffer = new byte[ChunkSize];
            long offset = 0;
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                cancel.ThrowIfCancellationRequested();
                target.Write(offset, buffer.AsSpan(0, read));
                offset += read;
            }

            target.Sync();
        }

        _volume.SetMode(plainPath, mode);
        _volume.SetTimes(plainPath, ToUnixTime(file.LastAccessTimeUtc), modified);
        return true;
    }

    private void EnsureDirectory(string plainPath, string source)
    {
        if (plainPath != "/" && !Exists(plainPath))
        {
            _volume.CreateDirectory(plainPath, new CreateOptions(BackingFs.Stat(source).Mode & 0xFFF, Scope: _scope));
        }
    }

    private bool Exists(string plainPath)
    {
        try
        {
            _volume.GetStatus(plainPath);
            return true;
        }
        catch (FsException e) when (e.Errno == Errno.ENOENT)
        {
            return false;
        }
    }

    private static (long Files, long Bytes) Count(string source)
    {
        long files = 0, bytes = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false };
        foreach (var file in new DirectoryInfo(source).EnumerateFiles("*", options))
        {
            files++;
            bytes += file.Length;
        }

        return (files, bytes);
    }

    private static UnixTime ToUnixTime(DateTime utc)
    {
        long ticks = utc.Ticks - DateTime.UnixEpoch.Ticks;
        return new UnixTime(ticks / TimeSpan.TicksPerSecond, (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EncFs.Core.Backing;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Import;

/// <summary>The import was refused before anything changed: the message says why.</summary>
public sealed class ImportRefusedException : Exception
{
    public ImportRefusedException()
    {
    }

    public ImportRefusedException(string message)
        : base(message)
    {
    }

    public ImportRefusedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The record of an in-place import, kept in the plaintext directory's root (never in the backing
/// directory: it names plaintext files, which must not outlive the plaintext on the disk that holds
/// the volume). JSON lines, each appended and fsynced before the step it announces:
/// a header naming the volume, then <c>{"copy":p}</c> before the volume entry for p is created
/// (so a later run may replace that entry: it is ours), <c>{"verified":p,"dev":d,"ino":i}</c> once
/// the volume holds a verified, synced copy, <c>{"shred":p,"dev":d,"ino":i}</c> before p's plaintext is
/// overwritten (from then on the plaintext is no longer the data: the volume copy is), and
/// <c>{"removed":p}</c> once that overwritten file is unlinked (the shred record no longer applies).
/// </summary>
public sealed class ImportJournal : IDisposable
{
    public const string FileName = ".efs-import-journal";
    private const int Version = 1;
    private readonly SafeFileHandle _handle;
    private readonly string _path;
    private readonly HashSet<string> _copied = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ulong Device, ulong Inode)> _shredding = new(StringComparer.Ordinal);
    private readonly Dictionary<(ulong Device, ulong Inode), string> _verified = [];
    private readonly HashSet<string> _verifiedPaths = new(StringComparer.Ordinal);
    private long _length;

    private ImportJournal(string path, SafeFileHandle handle)
    {
        _path = path;
        _handle = handle;
    }

    /// <summary>Entries whose volume copy is known to be a verified copy, by the plaintext file's identity.</summary>
    public IReadOnlyDictionary<(ulong Device, ulong Inode), string> Verified => _verified;

    public static string PathIn(string sourceRoot) => Path.Combine(sourceRoot, FileName);

    /// <summary>Whether an in-place import into some volume was started in this directory and not finished.</summary>
    public static bool ExistsIn(string sourceRoot) => BackingFs.TryStat(PathIn(sourceRoot), out _);

    /// <summary>
    /// Checks, without changing anything, that a journal left in <paramref name="sourceRoot"/> (if
    /// any) belongs to this volume and target; throws <see cref="ImportRefusedException"/> if not.
    /// </summary>
    public static void CheckBelongsTo(string sourceRoot, string volumeId, string target)
    {
        var path = PathIn(sourceRoot);
        if (!BackingFs.TryStat(path, out var status))
        {
            return;
        }

        CheckTrusted(path, status);

        // A crash before the header reached the disk leaves no complete line: nothing began.
        if (ReadLines(ReadAll(path), out _).FirstOrDefault() is not { } header)
        {
            return;
        }

        if (header["journal"] is not JsonValue version || !version.TryGetValue<int>(out var number) || number != Version)
        {
            throw new ImportRefusedException($"'{path}' is not an import journal of this efs version; move it out of the directory");
        }

        if (Text(header, "volume") != volumeId || Text(header, "to") != target)
        {
            throw new ImportRefusedException(
                $"'{path}' records an unfinished in-place import into volume {header["volume"]} at '{header["to"]}': finish it with that volume and --to first");
        }
    }

    /// <summary>
    /// Opens the journal left by an interrupted run, or starts one (synced before any other
    /// change), and holds an exclusive lock on it until disposed: a second import of the same
    /// directory is refused while this one runs.
    /// </summary>
    public static ImportJournal OpenOrCreate(string sourceRoot, string volumeId, string target)
    {
        CheckBelongsTo(sourceRoot, volumeId, target);
        var path = PathIn(sourceRoot);
        SafeFileHandle handle;
        try
        {
            handle = BackingFs.Open(path, Libc.O_RDWR);
        }
        catch (FsException e) when (e.Errno == Errno.ENOENT)
        {
            try
            {
                // O_EXCL: a file someone else slips in at this name is never taken for ours.
                handle = BackingFs.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL, 0x180 /* 0600 */);
                BackingFs.Chmod(handle, 0x180);
            }
            catch (FsException raced) when (raced.Errno == Errno.EEXIST)
            {
                throw new ImportRefusedException($"'{path}' appeared while this import started: is another import of this directory running?", raced);
            }
        }

        var journal = new ImportJournal(path, handle);
        try
        {
            if (!BackingFs.TryLockExclusive(handle))
            {
                throw new ImportRefusedException($"another import of '{sourceRoot}' is running (it holds '{path}'); wait for it to finish");
            }

            // Checked on the open file itself, and after the lock: the name may have been
            // replaced, or the journal finished and removed by the run that held the lock.
            var status = BackingFs.Stat(handle);
            CheckTrusted(path, status);
            if (!BackingFs.TryStat(path, out var named) || named.Device != status.Device || named.Inode != status.Inode)
            {
                throw new ImportRefusedException($"'{path}' was replaced or removed by another import while this one started; run again");
            }

            if (!journal.Load())
            {
                journal.Append(new JsonObject { ["journal"] = Version, ["volume"] = volumeId, ["to"] = target });
                BackingFs.FsyncDirectory(sourceRoot);
            }

            return journal;
        }
        catch
        {
            journal.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Only a regular file of the effective user with mode 0600 is trusted: anyone else able to
    /// write the journal could make the import remove plaintext it never copied.
    /// </summary>
    private static void CheckTrusted(string path, in FileStatus status)
    {
        if (!status.IsRegular)
        {
            throw new ImportRefusedException($"'{path}' is in the way of the import journal; move it out of the directory");
        }

        if (status.Uid != BackingFs.EffectiveUid || (status.Mode & 0xFFF) != 0x180)
        {
            throw new ImportRefusedException(
                $"'{path}' is not owned by this user with mode 0600 (uid {status.Uid}, mode {Convert.ToString(status.Mode & 0xFFF, 8)}): not trusted; check it, and fix its owner and mode if it is yours");
        }
    }

    public bool WasCopied(string relative) => _copied.Contains(relative);

    /// <summary>
    /// Whether the volume entry at this path was once verified as the copy of its plaintext: from
    /// then on it may be the only copy of that data, so it is never replaced, whatever appears at
    /// the plaintext path later.
    /// </summary>
    public bool WasVerified(string relative) => _verifiedPaths.Contains(relative);

    /// <summary>Whether this very file (not one created at its path since) was being overwritten.</summary>
    public bool IsShredding(string relative, in FileStatus plaintext) =>
        _shredding.TryGetValue(relative, out var identity) && identity == (plaintext.Device, plaintext.Inode);

    public void RecordCopy(string relative)
    {
        if (_copied.Add(relative))
        {
            Append(new JsonObject { ["copy"] = relative });
        }
    }

    public void RecordVerified(string relative, in FileStatus plaintext)
    {
        Append(new JsonObject { ["verified"] = relative, ["dev"] = plaintext.Device, ["ino"] = plaintext.Inode });
        _verified[(plaintext.Device, plaintext.Inode)] = relative;
        _verifiedPaths.Add(relative);
    }

    /// <summary>Whether an overwrite of this path was recorded and not yet retired by its removal.</summary>
    public bool IsShreddingPath(string relative) => _shredding.ContainsKey(relative);

    /// <summary>
    /// Retires the <c>shred</c> record once the overwritten file is unlinked: a file created at
    /// that path later, even one given the same inode number, must not be taken for it.
    /// </summary>
    public void RecordRemoved(string relative)
    {
        if (_shredding.Remove(relative))
        {
            Append(new JsonObject { ["removed"] = relative });
        }
    }

    public void RecordShred(string relative, in FileStatus plaintext)
    {
        Append(new JsonObject { ["shred"] = relative, ["dev"] = plaintext.Device, ["ino"] = plaintext.Inode });
        _shredding[relative] = (plaintext.Device, plaintext.Inode);
    }

    /// <summary>Removes the journal once nothing is pending: the import is complete.</summary>
    public void Delete()
    {
        BackingFs.Unlink(_path);
        BackingFs.FsyncDirectory(Path.GetDirectoryName(_path)!);
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>Reads the records; false when there are none (not even the header).</summary>
    private bool Load()
    {
        var length = BackingFs.Stat(_handle).Size;
        var content = new byte[length];
        int read = BackingFs.ReadAt(_handle, content, 0);
        var lines = ReadLines(content.AsSpan(0, read), out int complete);

        // A crash while appending can leave a torn last line: it announced a step that never
        // started, so it is dropped and the next record starts on a fresh line.
        if (complete < read)
        {
            BackingFs.Truncate(_handle, complete);
            BackingFs.Fsync(_handle);
        }

        _length = complete;
        foreach (var line in lines.Skip(1))
        {
            if (Text(line, "copy") is { } copied)
            {
                _copied.Add(copied);
            }
            else if (Text(line, "verified") is { } verified)
            {
                _verified[(Number(line, "dev"), Number(line, "ino"))] = verified;
                _verifiedPaths.Add(verified);
            }
            else if (Text(line, "shred") is { } shredding)
            {
                _shredding[shredding] = (Number(line, "dev"), Number(line, "ino"));
            }
            else if (Text(line, "removed") is { } removed)
            {
                _shredding.Remove(removed);
            }
        }

        return lines.Count > 0;
    }

    /// <summary>Reads the file through libc: .NET's own file streams take a lock that a running import's flock would refuse.</summary>
    private static byte[] ReadAll(string path)
    {
        using var handle = BackingFs.Open(path, Libc.O_RDONLY);
        var content = new byte[BackingFs.Stat(handle).Size];
        return content[..BackingFs.ReadAt(handle, content, 0)];
    }

    private static string? Text(JsonObject line, string key) => line[key] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => throw new InvalidDataException($"import journal damaged: \"{key}\" is not a string in {line.ToJsonString()}"),
    };

    private static ulong Number(JsonObject line, string key) =>
        line[key] is JsonValue value && value.TryGetValue<ulong>(out var number) ? number
            : throw new InvalidDataException($"import journal damaged: \"{key}\" is not a number in {line.ToJsonString()}");

    private static List<JsonObject> ReadLines(ReadOnlySpan<byte> content, out int complete)
    {
        var lines = new List<JsonObject>();
        complete = 0;
        while (content[complete..].IndexOf((byte)'\n') is var end and >= 0)
        {
            var line = content.Slice(complete, end);
            JsonObject? parsed;
            try
            {
                parsed = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                parsed = null;
            }

            if (parsed is null)
            {
                // The last line may be torn with its newline already written (the write reached
                // the disk out of order): like a line without one, it announced a step that never
                // started. Anywhere else an unreadable line is damage, not a crash.
                if (complete + end + 1 == content.Length)
                {
                    break;
                }

                throw new InvalidDataException($"import journal damaged at byte {complete}: a line is not a JSON object");
            }

            lines.Add(parsed);
            complete += end + 1;
        }

        return lines;
    }

    private void Append(JsonObject record)
    {
        var bytes = Encoding.UTF8.GetBytes(record.ToJsonString() + "\n");
        BackingFs.WriteAt(_handle, bytes, _length);
        BackingFs.Fsync(_handle);
        _length += bytes.Length;
    }
}

using EncFs.Core.Backing;

namespace EncFs.Core.Volume;

/// <summary>
/// An exclusive lock on the backing directory (flock on efs.lock), so one volume is never open
/// for writing twice, by this process or another. Released when the process dies.
/// </summary>
internal sealed class VolumeLock : IDisposable
{
    public const string FileName = "efs.lock";
    private readonly FileStream _stream;

    private VolumeLock(FileStream stream) => _stream = stream;

    public static VolumeLock Acquire(string backingDir)
    {
        var path = Path.Combine(backingDir, FileName);
        FileStream stream;
        try
        {
            // FileShare.None makes .NET take flock(LOCK_EX | LOCK_NB) on Unix.
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            var holder = TryReadHolder(path);
            throw new FsException(Errno.EBUSY, $"the volume at '{backingDir}' is already open{holder}; unmount it first", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new FsException(Errno.EACCES, $"cannot lock '{path}': permission denied", e);
        }

        stream.SetLength(0);
        var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
        stream.Write(pid);
        stream.Flush();
        return new VolumeLock(stream);
    }

    /// <summary>
    /// Records where the holder can be reached (its control socket), so that commands given
    /// the volume while it is mounted are sent to the process that has it open.
    /// </summary>
    public void Announce(string controlSocket)
    {
        _stream.SetLength(0);
        _stream.Write(System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId}\ncontrol {controlSocket}\n"));
        _stream.Flush();
    }

    /// <summary>What the lock file says about its last holder (who may be gone: the caller checks).</summary>
    public static (int? Pid, string? ControlSocket) ReadRecord(string backingDir)
    {
        var lines = TryRead(Path.Combine(backingDir, FileName)).Split('\n');
        int? pid = int.TryParse(lines[0].Trim(), out var value) ? value : null;
        var control = lines.Skip(1).FirstOrDefault(l => l.StartsWith("control ", StringComparison.Ordinal))?["control ".Length..];
        return (pid, control);
    }

    public void Dispose() => _stream.Dispose();

    private static string TryReadHolder(string path)
    {
        var pid = TryRead(path).Split('\n')[0].Trim();
        return pid.Length == 0 ? string.Empty : $" by process {pid}";
    }

    private static string TryRead(string path)
    {
        try
        {
            // Plain open(2): a FileStream takes flock(LOCK_SH), which the holder's LOCK_EX refuses.
            using var handle = BackingFs.Open(path, Libc.O_RDONLY);
            Span<byte> buffer = stackalloc byte[1024];
            int n = BackingFs.ReadAt(handle, buffer, 0);
            return System.Text.Encoding.UTF8.GetString(buffer[..n]);
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}

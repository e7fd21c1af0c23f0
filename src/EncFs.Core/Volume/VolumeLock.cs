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

    public void Dispose() => _stream.Dispose();

    private static string TryReadHolder(string path)
    {
        try
        {
            // Plain open(2): a FileStream takes flock(LOCK_SH), which the holder's LOCK_EX refuses.
            using var handle = BackingFs.Open(path, Libc.O_RDONLY);
            Span<byte> buffer = stackalloc byte[32];
            int n = BackingFs.ReadAt(handle, buffer, 0);
            var pid = System.Text.Encoding.ASCII.GetString(buffer[..n]).Split('\n')[0].Trim();
            return pid.Length == 0 ? string.Empty : $" by process {pid}";
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}

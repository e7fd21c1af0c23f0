using EncFs.Core.Backing;

namespace EncFs.Core.Volume;

/// <summary>An open plaintext file of a volume. Positioned I/O only; thread-safe.</summary>
public sealed class FileHandle : IDisposable
{
    private readonly EncryptedVolume _volume;
    private readonly FileNode _node;
    private int _disposed;

    internal FileHandle(EncryptedVolume volume, FileNode node, bool canRead, bool canWrite, string path)
    {
        _volume = volume;
        _node = node;
        CanRead = canRead;
        CanWrite = canWrite;
        Path = path;
    }

    public string Path { get; }

    public bool CanRead { get; }

    public bool CanWrite { get; }

    public long Length => _node.Size;

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; 0 at end of file.</summary>
    public int Read(long offset, Span<byte> buffer)
    {
        if (!CanRead)
        {
            throw new FsException(Errno.EBADF, $"'{Path}' is not open for reading");
        }

        return _node.Read(offset, buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        RequireWrite();
        _node.Write(offset, data);
    }

    public void SetLength(long length)
    {
        RequireWrite();
        _node.SetLength(length);
    }

    /// <summary>Makes written data (and, unless <paramref name="dataOnly"/>, metadata) durable.</summary>
    public void Sync(bool dataOnly = false)
    {
        _volume.FlushDirectoryRecords();
        _node.Sync(dataOnly);
    }

    public FileStatus GetStatus() => _node.Status();

    /// <summary>chmod through the handle (fchmod): works on a file whose name is gone.</summary>
    public void SetMode(uint mode) => _node.SetMode(mode);

    public void SetOwner(uint? uid, uint? gid) => _node.SetOwner(uid, gid);

    public void SetTimes(UnixTime? access, UnixTime? modify) => _node.SetTimes(access, modify);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _volume.Release(_node);
        }
    }

    private void RequireWrite()
    {
        if (!CanWrite)
        {
            throw new FsException(Errno.EBADF, $"'{Path}' is not open for writing");
        }
    }
}

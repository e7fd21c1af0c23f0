using System.Runtime.InteropServices;
using EncFs.Core.Backing;
using EncFs.Fuse.Native;
using EncFs.Fuse.Protocol;

namespace EncFs.Fuse.Session;

/// <summary>
/// An open /dev/fuse connection: requests in, replies out. Several threads may read and write
/// at once; each read returns exactly one request.
/// </summary>
internal sealed unsafe class FuseChannel : IDisposable
{
    private int _fd;

    public FuseChannel(int fd) => _fd = fd;

    public int Fd => _fd;

    /// <summary>Reads one request; returns 0 once the filesystem is unmounted.</summary>
    public int Read(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = FuseLibc.Read(_fd, p, buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = (Errno)Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Errno.EINTR or Errno.EAGAIN or Errno.ENOENT:
                        continue; // interrupted, or the request was aborted before we read it
                    case Errno.ENODEV:
                    case Errno.EBADF:
                        return 0; // unmounted (or closed on shutdown)
                    default:
                        throw new FsException(errno, $"reading /dev/fuse: {FsException.Describe(errno)}");
                }
            }
        }
    }

    /// <summary>Sends a reply: the header, then the payload, in one writev.</summary>
    public void Reply(ulong unique, int errno, ReadOnlySpan<byte> payload)
    {
        var header = new OutHeader
        {
            Length = (uint)(OutHeader.Size + (errno == 0 ? payload.Length : 0)),
            Error = -errno,
            Unique = unique,
        };
        fixed (byte* data = payload)
        {
            var iov = stackalloc FuseLibc.IoVec[2];
            iov[0] = new FuseLibc.IoVec { Base = &header, Length = OutHeader.Size };
            iov[1] = new FuseLibc.IoVec { Base = data, Length = (nuint)payload.Length };
            int count = errno == 0 && payload.Length > 0 ? 2 : 1;
            // ENOENT here means the request was interrupted and is gone: nothing to do.
            FuseLibc.Writev(_fd, iov, count);
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            FuseLibc.Close(fd);
        }
    }
}

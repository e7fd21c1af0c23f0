using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Fuse.Protocol;

namespace EncFs.Fuse.Session;

internal sealed partial class FuseOperations
{
    private const int O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_EXCL = 0x80, O_TRUNC = 0x200;
    private const int SEEK_DATA = 3, SEEK_HOLE = 4;
    private const int FALLOC_FL_KEEP_SIZE = 1;

    // Writes go straight to the backing file, so close(2) has nothing to flush: FOPEN_NOFLUSH
    // spares the FLUSH round trip (locks are the kernel's, so FLUSH has no lock duty either).
    private int Open(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<OpenIn>();
        var handle = _volume.OpenFile(PathOf(header), Access(input.Flags), truncate: (input.Flags & O_TRUNC) != 0);
        reply.Write(new OpenOut { Fh = _files.Add(handle), OpenFlags = OpenOut.NoFlush });
        return 0;
    }

    private int Create(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<CreateIn>();
        var name = request.ReadName();
        var path = _nodes.ChildPath(header.NodeId, name);
        var handle = _volume.CreateFile(path, Owner(header, input.Mode), exclusive: (input.Flags & O_EXCL) != 0);
        try
        {
            if ((input.Flags & O_TRUNC) != 0 && handle.Length > 0)
            {
                handle.SetLength(0);
            }

            var status = handle.GetStatus();
            WriteEntry(ref reply, _nodes.Remember(header.NodeId, name, status), status);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        reply.Write(new OpenOut { Fh = _files.Add(handle), OpenFlags = OpenOut.NoFlush });
        return 0;
    }

    private int Read(ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<ReadIn>();
        var handle = _files.Get(input.Fh);
        int size = (int)Math.Min(input.Size, (uint)reply.Remaining);
        reply.Advance(handle.Read((long)input.Offset, reply.Free[..size]));
        return 0;
    }

    private int Write(ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<WriteIn>();
        var data = request.ReadBytes((int)input.DataSize);
        _files.Get(input.Fh).Write((long)input.Offset, data);
        reply.Write(new WriteOut { Size = input.DataSize });
        return 0;
    }

    private int Release(ref RequestReader request)
    {
        _files.Remove(request.Read<ReleaseIn>().Fh)?.Dispose();
        return 0;
    }

    private int Fsync(ref RequestReader request)
    {
        var input = request.Read<FsyncIn>();
        _files.Get(input.Fh).Sync(dataOnly: (input.FsyncFlags & FsyncIn.DataSync) != 0);
        return 0;
    }

    private int Fallocate(ref RequestReader request)
    {
        var input = request.Read<FallocateIn>();
        var handle = _files.Get(input.Fh);
        if ((input.Mode & ~FALLOC_FL_KEEP_SIZE) != 0)
        {
            return (int)Errno.ENOTSUP; // punching holes and zeroing ranges are not offered
        }

        long end = (long)(input.Offset + input.Length);
        if ((input.Mode & FALLOC_FL_KEEP_SIZE) == 0 && end > handle.Length)
        {
            handle.SetLength(end);
        }

        return 0;
    }

    /// <summary>SEEK_DATA/SEEK_HOLE: the whole file counts as data, with the one hole at its end (as POSIX allows).</summary>
    private int Lseek(ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<LseekIn>();
        var handle = _files.Get(input.Fh);
        long offset = (long)input.Offset;
        if (input.Whence is not (SEEK_DATA or SEEK_HOLE))
        {
            return (int)Errno.EINVAL;
        }

        if (offset >= handle.Length)
        {
            return (int)Errno.ENXIO;
        }

        reply.Write(new LseekOut { Offset = (ulong)(input.Whence == SEEK_DATA ? offset : handle.Length) });
        return 0;
    }

    private static FileAccess Access(int flags) => (flags & O_ACCMODE) switch
    {
        O_WRONLY => FileAccess.Write,
        O_RDWR => FileAccess.ReadWrite,
        _ => FileAccess.Read,
    };
}

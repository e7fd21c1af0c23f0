using System.Runtime.InteropServices;
using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Fuse.Protocol;

namespace EncFs.Fuse.Session;

internal sealed partial class FuseOperations
{
    private int OpenDir(in InHeader header, ref ReplyWriter reply)
    {
        var path = PathOf(header);
        if (!_volume.GetStatus(path).IsDirectory)
        {
            return (int)Errno.ENOTDIR;
        }

        reply.Write(new OpenOut { Fh = _directories.Add(new DirectoryHandle(path)) });
        return 0;
    }

    /// <summary>
    /// Lists from the snapshot taken at offset 0; "." and ".." come first. Each entry's offset is
    /// its index + 1. With readdirplus every sent entry (but . and ..) counts one kernel lookup.
    /// </summary>
    private int ReadDir(in InHeader header, ref RequestReader request, ref ReplyWriter reply, bool plus)
    {
        var input = request.Read<ReadIn>();
        var directory = _directories.Get(input.Fh);
        if (input.Offset == 0 || directory.Entries is null)
        {
            var entries = new List<DirectoryEntry>
            {
                new(".", FileStatus.Directory, null),
                new("..", FileStatus.Directory, null),
            };
            entries.AddRange(_volume.ReadDirectory(directory.Path, withStatus: plus));
            directory.Entries = entries;
        }

        int limit = (int)Math.Min(input.Size, (uint)reply.Remaining);
        var list = directory.Entries;
        for (int i = (int)input.Offset; i < list.Count; i++)
        {
            var entry = list[i];
            int nameLength = Encoding.UTF8.GetByteCount(entry.Name);
            int direntSize = (Dirent.Size + nameLength + 7) & ~7;
            int entrySize = plus ? Marshal.SizeOf<EntryOut>() + direntSize : direntSize;
            if (reply.Length + entrySize > limit)
            {
                break;
            }

            ulong ino = entry.Status?.Inode ?? 0;
            if (plus)
            {
                if (entry.Status is { } status && i >= 2)
                {
                    WriteEntry(ref reply, _nodes.Remember(header.NodeId, entry.Name, status), status);
                }
                else
                {
                    reply.Write(default(EntryOut)); // node 0: the kernel skips it
                }
            }

            reply.Write(new Dirent { Ino = ino == 0 ? ulong.MaxValue : ino, Offset = (ulong)(i + 1), NameLength = (uint)nameLength, Type = entry.Type >> 12 });
            Encoding.UTF8.GetBytes(entry.Name, reply.Free);
            reply.Free[nameLength..(direntSize - Dirent.Size)].Clear();
            reply.Advance(direntSize - Dirent.Size);
        }

        return 0;
    }

    private int ReleaseDir(ref RequestReader request)
    {
        _directories.Remove(request.Read<ReleaseIn>().Fh);
        return 0;
    }

    private int FsyncDir(in InHeader header)
    {
        _volume.SyncDirectory(PathOf(header));
        return 0;
    }

    private int StatFs(ref ReplyWriter reply)
    {
        var status = _volume.GetFileSystemStatus();
        reply.Write(new StatFsOut
        {
            Blocks = status.Blocks,
            BlocksFree = status.BlocksFree,
            BlocksAvailable = status.BlocksAvailable,
            Files = status.Files,
            FilesFree = status.FilesFree,
            BlockSize = (uint)status.BlockSize,
            NameLength = (uint)status.NameMax,
            FragmentSize = (uint)status.FragmentSize,
        });
        return 0;
    }
}

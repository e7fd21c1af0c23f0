using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Fuse.Protocol;

namespace EncFs.Fuse.Session;

internal sealed partial class FuseOperations
{
    private const uint RenameWhiteout = 4;

    private int Lookup(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var name = request.ReadName();
        var path = _nodes.ChildPath(header.NodeId, name);
        FileStatus status;
        try
        {
            status = _volume.GetStatus(path);
        }
        catch (FsException e) when (e.Errno == Errno.ENOENT)
        {
            // A negative entry the kernel may cache: every change goes through this mount.
            reply.Write(new EntryOut { EntryValid = _validSeconds });
            return 0;
        }

        WriteEntry(ref reply, _nodes.Remember(header.NodeId, name, status), status);
        return 0;
    }

    private int Forget(in InHeader header, ref RequestReader request)
    {
        _nodes.Forget(header.NodeId, request.Read<ForgetIn>().NLookup);
        return NoReply;
    }

    private int BatchForget(ref RequestReader request)
    {
        var batch = request.Read<BatchForgetIn>();
        for (uint i = 0; i < batch.Count; i++)
        {
            var one = request.Read<ForgetOne>();
            _nodes.Forget(one.NodeId, one.NLookup);
        }

        return NoReply;
    }

    private int GetAttr(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<GetAttrIn>();
        if ((input.Flags & GetAttrIn.FlagFh) != 0 && _files.TryGet(input.Fh, out var handle))
        {
            WriteAttr(ref reply, handle!.GetStatus());
            return 0;
        }

        FileStatus status;
        try
        {
            status = _volume.GetStatus(PathOf(header));
        }
        catch (FsException e) when (e.Errno == Errno.ENOENT && OpenHandleOf(header.NodeId) is { } open)
        {
            // fstat(2) of a file unlinked while open (tmpfile(), sqlite's temporary files): the
            // kernel sends no handle with it, but the file is still open and has attributes.
            status = open.GetStatus();
        }

        WriteAttr(ref reply, status);
        return 0;
    }

    /// <summary>An open handle on the node's file, found by backing inode (only for the rare detached case).</summary>
    private FileHandle? OpenHandleOf(ulong nodeId)
    {
        ulong inode = _nodes.InodeOf(nodeId);
        if (inode == 0)
        {
            return null;
        }

        foreach (var handle in _files.Values)
        {
            try
            {
                if (handle.GetStatus().Inode == inode)
                {
                    return handle;
                }
            }
            catch (ObjectDisposedException)
            {
                // released by another thread meanwhile
            }
        }

        return null;
    }

    private int SetAttr(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<SetAttrIn>();
        var valid = input.Valid;
        FileHandle? handle = null;
        if (valid.HasFlag(SetAttrValid.Fh))
        {
            _files.TryGet(input.Fh, out handle);
        }

        // By path, or through an open handle when the name is gone (fchmod of an unlinked file).
        string? path = null;
        if (handle is null)
        {
            try
            {
                path = _nodes.PathOf(header.NodeId);
            }
            catch (FsException e) when (e.Errno == Errno.ENOENT && OpenHandleOf(header.NodeId) is not null)
            {
                handle = OpenHandleOf(header.NodeId);
            }
        }

        if (valid.HasFlag(SetAttrValid.Mode))
        {
            if (handle is not null)
            {
                handle.SetMode(input.Mode);
            }
            else
            {
                _volume.SetMode(path!, input.Mode);
            }
        }

        if (valid.HasFlag(SetAttrValid.Uid) || valid.HasFlag(SetAttrValid.Gid))
        {
            uint? uid = valid.HasFlag(SetAttrValid.Uid) ? input.Uid : null;
            uint? gid = valid.HasFlag(SetAttrValid.Gid) ? input.Gid : null;
            if (handle is not null)
            {
                handle.SetOwner(uid, gid);
            }
            else
            {
                _volume.SetOwner(path!, uid, gid);
            }
        }

        if (valid.HasFlag(SetAttrValid.Size))
        {
            if (handle is not null && handle.CanWrite)
            {
                handle.SetLength((long)input.Size);
            }
            else
            {
                _volume.SetLength(path ?? _nodes.PathOf(header.NodeId), (long)input.Size);
            }
        }

        UnixTime? atime = Time(valid, SetAttrValid.Atime, SetAttrValid.AtimeNow, input.Atime, input.AtimeNsec);
        UnixTime? mtime = Time(valid, SetAttrValid.Mtime, SetAttrValid.MtimeNow, input.Mtime, input.MtimeNsec);
        if (atime is not null || mtime is not null)
        {
            if (handle is not null)
            {
                handle.SetTimes(atime, mtime);
            }
            else
            {
                _volume.SetTimes(path!, atime, mtime);
            }
        }

        WriteAttr(ref reply, handle is not null ? handle.GetStatus() : _volume.GetStatus(path!));
        return 0;
    }

    private static UnixTime? Time(SetAttrValid valid, SetAttrValid given, SetAttrValid now, ulong seconds, uint nanoseconds)
    {
        if (valid.HasFlag(now))
        {
            var ticks = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            return new UnixTime(ticks / 1000, (uint)(ticks % 1000) * 1_000_000);
        }

        return valid.HasFlag(given) ? new UnixTime((long)seconds, nanoseconds) : null;
    }

    private int ReadLink(in InHeader header, ref ReplyWriter reply)
    {
        var target = _volume.ReadSymlink(PathOf(header));
        int length = Encoding.UTF8.GetBytes(target, reply.Free);
        reply.Advance(length);
        return 0;
    }

    private int Symlink(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var name = request.ReadName();
        var target = request.ReadName();
        _volume.CreateSymlink(_nodes.ChildPath(header.NodeId, name), target, Owner(header, 0xA1FF));
        return ReplyNewEntry(header, name, ref reply);
    }

    private int MkNod(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<MkNodIn>();
        var name = request.ReadName();
        var path = _nodes.ChildPath(header.NodeId, name);
        if ((input.Mode & FileStatus.TypeMask) == FileStatus.Regular)
        {
            _volume.CreateFile(path, Owner(header, input.Mode)).Dispose();
        }
        else
        {
            _volume.CreateSpecial(path, Owner(header, input.Mode));
        }

        return ReplyNewEntry(header, name, ref reply);
    }

    private int MkDir(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<MkDirIn>();
        var name = request.ReadName();
        _volume.CreateDirectory(_nodes.ChildPath(header.NodeId, name), Owner(header, input.Mode));
        return ReplyNewEntry(header, name, ref reply);
    }

    private int Unlink(in InHeader header, ref RequestReader request)
    {
        var name = request.ReadName();
        _volume.Unlink(_nodes.ChildPath(header.NodeId, name));
        _nodes.Removed(header.NodeId, name);
        return 0;
    }

    private int RmDir(in InHeader header, ref RequestReader request)
    {
        var name = request.ReadName();
        _volume.RemoveDirectory(_nodes.ChildPath(header.NodeId, name));
        _nodes.Removed(header.NodeId, name);
        return 0;
    }

    private int Rename(in InHeader header, ref RequestReader request, bool withFlags)
    {
        ulong newDir;
        uint flags = 0;
        if (withFlags)
        {
            var input = request.Read<Rename2In>();
            (newDir, flags) = (input.NewDir, input.Flags);
        }
        else
        {
            newDir = request.Read<RenameIn>().NewDir;
        }

        if ((flags & RenameWhiteout) != 0)
        {
            return (int)Errno.EINVAL;
        }

        var oldName = request.ReadName();
        var newName = request.ReadName();
        var renameFlags = (RenameFlags)flags;
        _volume.Rename(_nodes.ChildPath(header.NodeId, oldName), _nodes.ChildPath(newDir, newName), renameFlags);
        _nodes.Renamed(header.NodeId, oldName, newDir, newName, renameFlags.HasFlag(RenameFlags.Exchange));
        return 0;
    }

    private int Link(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<LinkIn>();
        var name = request.ReadName();
        _volume.Link(_nodes.PathOf(input.OldNodeId), _nodes.ChildPath(header.NodeId, name));
        return ReplyNewEntry(header, name, ref reply);
    }

    private int Access(in InHeader header)
    {
        // Permissions are the kernel's (default_permissions); this only confirms existence.
        _volume.GetStatus(PathOf(header));
        return 0;
    }
}

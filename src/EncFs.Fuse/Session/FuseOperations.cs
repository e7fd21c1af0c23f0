using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace EncFs.Fuse.Session;

/// <summary>
/// The FUSE operations over an <see cref="EncryptedVolume"/>: decodes each request, calls the
/// volume, encodes the reply. Thread-safe; one instance per mount.
/// </summary>
internal sealed partial class FuseOperations : IDisposable
{
    /// <summary>Returned by a handler for requests that take no reply (FORGET, INTERRUPT).</summary>
    public const int NoReply = -1;

    private readonly EncryptedVolume _volume;
    private readonly ILogger _logger;
    private readonly NodeTable _nodes = new();
    private readonly HandleTable<FileHandle> _files = new();
    private readonly HandleTable<DirectoryHandle> _directories = new();
    private readonly ulong _validSeconds;

    public FuseOperations(EncryptedVolume volume, ILogger logger, TimeSpan cacheTimeout)
    {
        _volume = volume;
        _logger = logger;
        _validSeconds = (ulong)cacheTimeout.TotalSeconds;
    }

    /// <summary>Set once the kernel said DESTROY (or the session ends).</summary>
    public bool Destroyed { get; private set; }

    public int OpenFileCount => _files.Count;

    /// <summary>Handles one request; returns 0 with the reply payload written, an errno, or <see cref="NoReply"/>.</summary>
    public int Dispatch(in InHeader header, ReadOnlySpan<byte> body, ref ReplyWriter reply)
    {
        try
        {
            var request = new RequestReader(body);
            return header.Opcode switch
            {
                Opcode.Init => Init(ref request, ref reply),
                Opcode.Lookup => Lookup(header, ref request, ref reply),
                Opcode.Forget => Forget(header, ref request),
                Opcode.BatchForget => BatchForget(ref request),
                Opcode.GetAttr => GetAttr(header, ref request, ref reply),
                Opcode.SetAttr => SetAttr(header, ref request, ref reply),
                Opcode.ReadLink => ReadLink(header, ref reply),
                Opcode.Symlink => Symlink(header, ref request, ref reply),
                Opcode.MkNod => MkNod(header, ref request, ref reply),
                Opcode.MkDir => MkDir(header, ref request, ref reply),
                Opcode.Unlink => Unlink(header, ref request),
                Opcode.RmDir => RmDir(header, ref request),
                Opcode.Rename => Rename(header, ref request, withFlags: false),
                Opcode.Rename2 => Rename(header, ref request, withFlags: true),
                Opcode.Link => Link(header, ref request, ref reply),
                Opcode.Open => Open(header, ref request, ref reply),
                Opcode.Create => Create(header, ref request, ref reply),
                Opcode.Read => Read(ref request, ref reply),
                Opcode.Write => Write(ref request, ref reply),
                Opcode.Flush => 0,
                Opcode.Release => Release(ref request),
                Opcode.Fsync => Fsync(ref request),
                Opcode.Fallocate => Fallocate(ref request),
                Opcode.Lseek => Lseek(ref request, ref reply),
                Opcode.OpenDir => OpenDir(header, ref reply),
                Opcode.ReadDir => ReadDir(header, ref request, ref reply, plus: false),
                Opcode.ReadDirPlus => ReadDir(header, ref request, ref reply, plus: true),
                Opcode.ReleaseDir => ReleaseDir(ref request),
                Opcode.FsyncDir => FsyncDir(header),
                Opcode.StatFs => StatFs(ref reply),
                Opcode.SetXattr => SetXattr(header, ref request),
                Opcode.GetXattr => GetXattr(header, ref request, ref reply),
                Opcode.ListXattr => ListXattr(header, ref request, ref reply),
                Opcode.RemoveXattr => RemoveXattr(header, ref request),
                Opcode.Access => Access(header),
                Opcode.Interrupt => NoReply,
                Opcode.Destroy => Destroy(),
                _ => (int)Errno.ENOSYS,
            };
        }
        catch (FsException e)
        {
            if (e.Errno is Errno.EIO or Errno.EACCES or Errno.ENOSPC)
            {
                _logger.LogWarning("{Opcode} failed: {Message}", header.Opcode, e.Message);
            }

            if (e.Errno == Errno.EACCES)
            {
                _volume.AuditLog.Write(new Core.Audit.AuditEvent("access", "denied", Detail: $"uid {header.Uid}: {e.Message}"));
            }

            return (int)e.Errno;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or System.Security.Cryptography.CryptographicException)
        {
            _logger.LogError(e, "{Opcode} failed", header.Opcode);
            return (int)(e is UnauthorizedAccessException ? Errno.EACCES : Errno.EIO);
        }
#pragma warning disable CA1031 // Any other failure is a bug; the caller still gets an answer, never a hang.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.LogError(e, "{Opcode} failed unexpectedly", header.Opcode);
            return (int)Errno.EIO;
        }
    }

    public void Dispose()
    {
        foreach (var handle in _files.RemoveAll())
        {
            handle.Dispose();
        }
    }

    private int Destroy()
    {
        Destroyed = true;
        return 0;
    }

    private string PathOf(in InHeader header) => _nodes.PathOf(header.NodeId);

    private Attr ToAttr(in FileStatus status) => new()
    {
        Ino = status.Inode,
        Size = (ulong)status.Size,
        Blocks = (ulong)status.Blocks,
        Atime = (ulong)status.AccessTime.Seconds,
        AtimeNsec = status.AccessTime.Nanoseconds,
        Mtime = (ulong)status.ModifyTime.Seconds,
        MtimeNsec = status.ModifyTime.Nanoseconds,
        Ctime = (ulong)status.ChangeTime.Seconds,
        CtimeNsec = status.ChangeTime.Nanoseconds,
        Mode = status.Mode,
        Nlink = status.LinkCount,
        Uid = status.Uid,
        Gid = status.Gid,
        Rdev = (uint)status.RawDevice,
        BlockSize = 4096,
    };

    private void WriteEntry(ref ReplyWriter reply, ulong nodeId, in FileStatus status) =>
        reply.Write(new EntryOut
        {
            NodeId = nodeId,
            EntryValid = _validSeconds,
            AttrValid = _validSeconds,
            Attr = ToAttr(status),
        });

    private void WriteAttr(ref ReplyWriter reply, in FileStatus status) =>
        reply.Write(new AttrOut { AttrValid = _validSeconds, Attr = ToAttr(status) });

    /// <summary>Replies with the entry just created at (parent, name) and counts the kernel's lookup.</summary>
    private int ReplyNewEntry(in InHeader header, string name, ref ReplyWriter reply)
    {
        var status = _volume.GetStatus(_nodes.ChildPath(header.NodeId, name));
        WriteEntry(ref reply, _nodes.Remember(header.NodeId, name, status), status);
        return 0;
    }

    private static CreateOptions Owner(in InHeader header, uint mode) => new(mode, header.Uid, header.Gid);
}

using EncFs.Core.Backing;
using EncFs.Core.Content;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Volume;

public sealed partial class EncryptedVolume
{
    public FileHandle OpenFile(string path, FileAccess access, bool truncate = false)
    {
        bool write = access.HasFlag(FileAccess.Write);
        if (write || truncate)
        {
            RequireWritable();
        }

        var backing = BackingPathOf(path);
        var status = StatEntry(backing, path);
        if (status.IsDirectory)
        {
            throw new FsException(Errno.EISDIR, $"'{path}' is a directory");
        }

        if (!status.IsRegular)
        {
            throw new FsException(Errno.EINVAL, $"'{path}' is not a regular file");
        }

        var node = AcquireNode(OpenBackingForNode(backing, path), backing, path);
        var handle = new FileHandle(this, node, access.HasFlag(FileAccess.Read), write, path);
        if (truncate)
        {
            try
            {
                handle.SetLength(0);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        return handle;
    }

    /// <summary>Creates a regular file (or opens it when it exists and <paramref name="exclusive"/> is false).</summary>
    public FileHandle CreateFile(string path, CreateOptions options, bool exclusive = true)
    {
        RequireWritable();
        var target = Resolve(path);
        var scope = ScopeForNewEntry(target, options.Scope);
        var keys = CurrentKeys(scope);
        if (BackingFs.TryStat(target.BackingPath, out _))
        {
            if (exclusive)
            {
                throw new FsException(Errno.EEXIST, $"'{path}' already exists");
            }

            return OpenFile(path, FileAccess.ReadWrite);
        }

        WriteSidecarIfLong(target);
        SafeFileHandle handle;
        try
        {
            handle = BackingFs.Open(target.BackingPath, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL, options.Mode & 0xFFF);
        }
        catch (FsException e) when (e.Errno == Errno.EEXIST && !exclusive)
        {
            return OpenFile(path, FileAccess.ReadWrite);
        }
        catch (FsException e)
        {
            throw new FsException(e.Errno, $"'{path}': {FsException.Describe(e.Errno)}", e);
        }

        var layout = LayoutFor(scope);
        var header = FileHeader.ForNewFile(keys.ScopeId, keys.Generation, layout);
        var bytes = new byte[FileHeader.Size];
        header.WriteFixedPart(bytes);
        var cipher = new FileCipher(keys, header.FileId, layout);
        try
        {
            cipher.SealSize(bytes, 0);
            BackingFs.WriteAt(handle, bytes, 0);
            ApplyOwner(target.BackingPath, options);
        }
        catch
        {
            cipher.Dispose();
            handle.Dispose();
            BackingFs.Unlink(target.BackingPath);
            throw;
        }

        var node = AddNode(new FileNode(BackingFs.Stat(handle).Inode, handle, writable: true, cipher, _keyring.Gate(keys.ScopeId), bytes, 0, path));
        return new FileHandle(this, node, canRead: true, canWrite: true, path);
    }

    internal void Release(FileNode node)
    {
        lock (_nodesLock)
        {
            if (--node.References > 0)
            {
                return;
            }

            _nodes.Remove(node.Inode);
        }

        node.Dispose();
    }

    /// <summary>Opens read-write when the backing file allows it: writes need to read partial sectors.</summary>
    private static (SafeFileHandle Handle, bool Writable) OpenBackingForNode(string backing, string path)
    {
        try
        {
            return (BackingFs.Open(backing, Libc.O_RDWR), true);
        }
        catch (FsException e) when (e.Errno is Errno.EACCES or Errno.EROFS or Errno.EPERM)
        {
            return (OpenBacking(backing, Libc.O_RDONLY, path), false);
        }
    }

    private FileNode AcquireNode((SafeFileHandle Handle, bool Writable) opened, string backing, string path)
    {
        var (handle, writable) = opened;
        try
        {
            var inode = BackingFs.Stat(handle).Inode;
            lock (_nodesLock)
            {
                if (_nodes.TryGetValue(inode, out var existing))
                {
                    existing.References++;
                    handle.Dispose();
                    return existing;
                }
            }

            var bytes = new byte[FileHeader.Size];
            if (BackingFs.ReadAt(handle, bytes, 0) < FileHeader.Size)
            {
                throw new FsException(Errno.EIO, $"'{path}': file header truncated (backing file '{backing}')");
            }

            FileHeader header;
            try
            {
                header = FileHeader.ReadFixedPart(bytes);
            }
            catch (InvalidDataException e)
            {
                throw new FsException(Errno.EIO, $"'{path}': {e.Message} (backing file '{backing}')", e);
            }

            ScopeKeys keys;
            try
            {
                keys = _keyring.Get(header.ScopeId, header.Generation);
            }
            catch (FsException e)
            {
                throw new FsException(e.Errno, $"'{path}': {e.Message} (backing file '{backing}')", e);
            }

            var cipher = new FileCipher(keys, header.FileId, new SectorLayout(header.SectorSize, header.Infrastructure));
            var size = cipher.OpenSize(bytes);
            if (size is null)
            {
                cipher.Dispose();
                throw new FsException(Errno.EIO, $"'{path}': file header failed authentication (tampered or damaged; backing file '{backing}')");
            }

            return AddNode(new FileNode(inode, handle, writable, cipher, _keyring.Gate(header.ScopeId), bytes, size.Value, path));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private FileNode AddNode(FileNode node)
    {
        lock (_nodesLock)
        {
            if (_nodes.TryGetValue(node.Inode, out var existing))
            {
                // Another thread opened the same file meanwhile: keep one node per inode.
                existing.References++;
                node.Dispose();
                return existing;
            }

            node.References = 1;
            _nodes[node.Inode] = node;
            return node;
        }
    }
}

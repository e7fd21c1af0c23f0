using System.Buffers;
using EncFs.Core.Backing;
using EncFs.Core.Content;
using EncFs.Core.Format;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Volume;

/// <summary>
/// One open backing file (per inode, shared by every handle and hard link to it): the sector
/// engine with read-modify-write of partial sectors, holes, and the logical size in the header.
/// Readers share a lock; writers and size changes take it exclusively.
/// </summary>
internal sealed class FileNode : IDisposable
{
    private const int MaxSectorsPerChunk = 256;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly SafeFileHandle _handle;
    private FileCipher _cipher;
    private ScopeGate _gate;
    private volatile string? _fenced;
    private byte[] _header;
    private readonly string _displayPath;

    public FileNode(ulong inode, SafeFileHandle handle, bool writable, FileCipher cipher, ScopeGate gate, byte[] header, long size, string displayPath)
    {
        _gate = gate;
        Inode = inode;
        _handle = handle;
        Writable = writable;
        _cipher = cipher;
        _header = header;
        Size = size;
        _displayPath = displayPath;
    }

    public ulong Inode { get; }

    public bool Writable { get; }

    public long Size { get; private set; }

    /// <summary>Handles that hold this node; guarded by the volume's node table lock.</summary>
    public int References { get; set; }

    private SectorLayout Layout => _cipher.Layout;

    private int SectorSize => _cipher.Layout.SectorSize;

    public int Read(long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ThrowIfUnusable();
        _lock.EnterReadLock();
        try
        {
            if (offset >= Size || destination.IsEmpty)
            {
                return 0;
            }

            int count = (int)Math.Min(destination.Length, Size - offset);
            int done = 0;
            while (done < count)
            {
                long position = offset + done;
                long first = position / SectorSize;
                int sectors = (int)Math.Min(MaxSectorsPerChunk, ((position + count - done - 1) / SectorSize) - first + 1);
                done += ReadChunk(first, sectors, position, destination[done..count]);
            }

            return count;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        RequireWritable();
        if (data.IsEmpty)
        {
            return;
        }

        _lock.EnterWriteLock();
        try
        {
            long end = offset + data.Length;
            if (Layout.Infrastructure)
            {
                MaterializeHoles(Layout.SectorCount(Size), offset / SectorSize);
            }

            int done = 0;
            while (done < data.Length)
            {
                long position = offset + done;
                long first = position / SectorSize;
                int sectors = (int)Math.Min(MaxSectorsPerChunk, ((end - 1) / SectorSize) - first + 1);
                int span = (int)Math.Min(data.Length - done, (sectors * (long)SectorSize) - (position % SectorSize));
                WriteChunk(first, sectors, position, data.Slice(done, span));
                done += span;
            }

            if (end > Size)
            {
                SetSizeInHeader(end);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void SetLength(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        RequireWritable();
        _lock.EnterWriteLock();
        try
        {
            if (length < Size)
            {
                Shrink(length);
            }
            else if (length > Size)
            {
                Grow(length);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void Sync(bool dataOnly) => BackingFs.Fsync(_handle, dataOnly);

    /// <summary>
    /// Moves an empty open file to other keys (its scope chosen before the first byte): the new
    /// header is written and every handle goes on with the new cipher.
    /// </summary>
    public void Rekey(FileCipher cipher, ScopeGate gate, byte[] header)
    {
        _lock.EnterWriteLock();
        try
        {
            if (Size != 0)
            {
                cipher.Dispose();
                throw new FsException(Errno.EBUSY, $"'{_displayPath}' already holds data: its scope was fixed by its first byte");
            }

            cipher.SealSize(header, 0);
            BackingFs.WriteAt(_handle, header, 0);
            BackingFs.Truncate(_handle, FileHeader.Size);
            var old = _cipher;
            (_cipher, _gate, _header) = (cipher, gate, header);
            old.Dispose();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Rewrites the file in place under new keys (a newer DEK generation): every sector, holes
    /// left as holes, then the header. Same inode, so hard links and open handles go on. With
    /// the write lock held throughout: <paramref name="saveUndo"/> first, so a crash can be
    /// rolled back; <paramref name="commit"/> once the sectors are rewritten, given the header
    /// write to do where it must (beside the extended attributes); <paramref name="rollBack"/>
    /// if anything fails or is cancelled midway. A rollback that fails fences the file (EIO)
    /// until the volume is opened again, which rolls it back from the undo record.
    /// </summary>
    public void Reencrypt(FileCipher cipher, ScopeGate gate, byte[] header, Action<SafeFileHandle> saveUndo, Action<SafeFileHandle, Action> commit, Action<SafeFileHandle> rollBack, CancellationToken cancel)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_gate.IsOpen || !Writable || _fenced is not null)
            {
                cipher.Dispose();
                ThrowIfUnusable();
                throw new FsException(Errno.EACCES, $"'{_displayPath}': the backing file is read-only for this process; not re-encrypted");
            }

            try
            {
                saveUndo(_handle); // a failure here (a full disk, say) changed nothing in the file
            }
            catch
            {
                cipher.Dispose();
                throw;
            }

            try
            {
                RewriteSectors(cipher, cancel);
                commit(_handle, () =>
                {
                    cipher.SealSize(header, Size);
                    BackingFs.WriteAt(_handle, header, 0);
                    BackingFs.Fsync(_handle);
                });
            }
            catch (Exception failure)
            {
                try
                {
                    rollBack(_handle);
                }
                catch (Exception rollBackFailure)
                {
                    _fenced = $"'{_displayPath}': re-encryption failed ({failure.Message}) and so did its rollback ({rollBackFailure.Message}); reopen the volume to restore it";
                    throw new ReencryptionAbortedException(_fenced, rollBackFailure);
                }
                finally
                {
                    cipher.Dispose();
                }

                throw;
            }

            var old = _cipher;
            (_cipher, _gate, _header) = (cipher, gate, header);
            old.Dispose();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void ThrowIfUnusable()
    {
        if (_fenced is { } reason)
        {
            throw new FsException(Errno.EIO, reason);
        }

        _gate.ThrowIfClosed(_displayPath);
    }

    private void RewriteSectors(FileCipher cipher, CancellationToken cancel)
    {
        long count = Layout.SectorCount(Size);
        var stored = ArrayPool<byte>.Shared.Rent(MaxSectorsPerChunk * Layout.Stride);
        var plain = ArrayPool<byte>.Shared.Rent(MaxSectorsPerChunk * SectorSize);
        Span<bool> holes = stackalloc bool[MaxSectorsPerChunk];
        try
        {
            for (long first = 0; first < count; first += MaxSectorsPerChunk)
            {
                cancel.ThrowIfCancellationRequested();
                int n = (int)Math.Min(MaxSectorsPerChunk, count - first);
                var chunk = stored.AsSpan(0, n * Layout.Stride);
                if (BackingFs.ReadAt(_handle, chunk, Layout.SectorOffset(first)) < chunk.Length)
                {
                    throw new FsException(Errno.EIO, $"'{_displayPath}' is truncated: sectors from {first} are missing from the backing file");
                }

                for (int i = 0; i < n; i++)
                {
                    var status = _cipher.DecryptSector(first + i, chunk.Slice(i * Layout.Stride, Layout.Stride), plain.AsSpan(i * SectorSize, SectorSize));
                    if (status == SectorStatus.Damaged)
                    {
                        throw new FsException(Errno.EIO, $"'{_displayPath}': sector {first + i} failed authentication (tampered or damaged); not re-encrypted");
                    }

                    holes[i] = status == SectorStatus.Hole;
                }

                cipher.EncryptSectors(first, plain.AsSpan(0, n * SectorSize), chunk);

                // Runs of data sectors are written; holes are left alone, so they stay holes.
                for (int i = 0; i < n;)
                {
                    int end = i;
                    while (end < n && holes[end] == holes[i])
                    {
                        end++;
                    }

                    if (!holes[i])
                    {
                        BackingFs.WriteAt(_handle, chunk.Slice(i * Layout.Stride, (end - i) * Layout.Stride), Layout.SectorOffset(first + i));
                    }

                    i = end;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
            ArrayPool<byte>.Shared.Return(plain, clearArray: true);
        }
    }

    public FileStatus Status() => BackingFs.Stat(_handle) with { Size = Size };

    /// <summary>Attribute changes through the open file, which work after its name is gone.</summary>
    public void SetMode(uint mode) => BackingFs.Chmod(_handle, mode & 0xFFF);

    public void SetOwner(uint? uid, uint? gid) => BackingFs.Chown(_handle, uid ?? uint.MaxValue, gid ?? uint.MaxValue);

    public void SetTimes(UnixTime? access, UnixTime? modify) => BackingFs.SetTimes(_handle, access, modify);

    public void Dispose()
    {
        _cipher.Dispose();
        _handle.Dispose();
        _lock.Dispose();
    }

    private int ReadChunk(long first, int sectors, long position, Span<byte> destination)
    {
        int storedLength = sectors * Layout.Stride;
        var stored = ArrayPool<byte>.Shared.Rent(storedLength);
        byte[]? partial = null;
        try
        {
            int got = BackingFs.ReadAt(_handle, stored.AsSpan(0, storedLength), Layout.SectorOffset(first));
            int skip = (int)(position - (first * SectorSize));
            int count = Math.Min(destination.Length, (sectors * SectorSize) - skip);
            int done = 0;
            for (int i = 0; i < sectors && done < count; i++)
            {
                if (got < (i + 1) * Layout.Stride)
                {
                    throw new FsException(Errno.EIO, $"'{_displayPath}' is truncated: sector {first + i} is missing from the backing file");
                }

                int from = i == 0 ? skip : 0;
                int length = Math.Min(SectorSize - from, count - done);
                var storedSector = stored.AsSpan(i * Layout.Stride, Layout.Stride);

                // Whole sectors decrypt straight into the caller's buffer; partial ones go through one scratch sector.
                bool whole = from == 0 && length == SectorSize;
                var plain = whole ? destination.Slice(done, SectorSize) : (partial ??= ArrayPool<byte>.Shared.Rent(SectorSize)).AsSpan(0, SectorSize);
                if (_cipher.DecryptSector(first + i, storedSector, plain) == SectorStatus.Damaged)
                {
                    throw new FsException(Errno.EIO, $"'{_displayPath}': sector {first + i} failed authentication (tampered or damaged)");
                }

                if (!whole)
                {
                    plain.Slice(from, length).CopyTo(destination[done..]);
                }

                done += length;
            }

            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
            if (partial is not null)
            {
                ArrayPool<byte>.Shared.Return(partial, clearArray: true);
            }
        }
    }

    private void WriteChunk(long first, int sectors, long position, ReadOnlySpan<byte> data)
    {
        int storedLength = sectors * Layout.Stride;
        var stored = ArrayPool<byte>.Shared.Rent(storedLength);
        try
        {
            int skip = (int)(position - (first * SectorSize));
            if (skip == 0 && data.Length == sectors * SectorSize)
            {
                // Whole sectors: encrypt straight from the caller's data.
                _cipher.EncryptSectors(first, data, stored);
            }
            else
            {
                EncryptMerged(first, sectors, skip, data, stored);
            }

            BackingFs.WriteAt(_handle, stored.AsSpan(0, storedLength), Layout.SectorOffset(first));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    /// <summary>Read-modify-write: partial first and last sectors are merged with what they hold.</summary>
    private void EncryptMerged(long first, int sectors, int skip, ReadOnlySpan<byte> data, Span<byte> stored)
    {
        int plainLength = sectors * SectorSize;
        var plain = ArrayPool<byte>.Shared.Rent(plainLength);
        try
        {
            long existing = Layout.SectorCount(Size);
            if (skip != 0)
            {
                LoadSector(first, existing, plain.AsSpan(0, SectorSize));
            }

            long last = first + sectors - 1;
            if ((skip + data.Length) % SectorSize != 0 && (last != first || skip == 0))
            {
                LoadSector(last, existing, plain.AsSpan((sectors - 1) * SectorSize, SectorSize));
            }

            data.CopyTo(plain.AsSpan(skip));
            _cipher.EncryptSectors(first, plain.AsSpan(0, plainLength), stored);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain, clearArray: true);
        }
    }

    /// <summary>Reads a sector for read-modify-write; sectors past the end of file are zeros.</summary>
    private void LoadSector(long sector, long existing, Span<byte> plain)
    {
        if (sector >= existing)
        {
            plain.Clear();
            return;
        }

        var stored = ArrayPool<byte>.Shared.Rent(Layout.Stride);
        try
        {
            int got = BackingFs.ReadAt(_handle, stored.AsSpan(0, Layout.Stride), Layout.SectorOffset(sector));
            if (got < Layout.Stride)
            {
                throw new FsException(Errno.EIO, $"'{_displayPath}' is truncated: sector {sector} is missing from the backing file");
            }

            if (_cipher.DecryptSector(sector, stored.AsSpan(0, Layout.Stride), plain) == SectorStatus.Damaged)
            {
                throw new FsException(Errno.EIO, $"'{_displayPath}': sector {sector} failed authentication (tampered or damaged)");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    private void Shrink(long length)
    {
        int tail = (int)(length % SectorSize);
        if (tail != 0)
        {
            // Zero what lies past the new end in the last sector, so a later extension reads zeros.
            long sector = length / SectorSize;
            var plain = ArrayPool<byte>.Shared.Rent(SectorSize);
            var stored = ArrayPool<byte>.Shared.Rent(Layout.Stride);
            try
            {
                LoadSector(sector, Layout.SectorCount(Size), plain.AsSpan(0, SectorSize));
                plain.AsSpan(tail, SectorSize - tail).Clear();
                _cipher.EncryptSectors(sector, plain.AsSpan(0, SectorSize), stored);
                BackingFs.WriteAt(_handle, stored.AsSpan(0, Layout.Stride), Layout.SectorOffset(sector));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(plain, clearArray: true);
                ArrayPool<byte>.Shared.Return(stored);
            }
        }

        // Header first: a crash in between leaves a longer backing file, never a short one.
        SetSizeInHeader(length);
        BackingFs.Truncate(_handle, Layout.BackingLength(length));
    }

    private void Grow(long length)
    {
        if (Layout.Infrastructure)
        {
            MaterializeHoles(Layout.SectorCount(Size), Layout.SectorCount(length));
        }
        else
        {
            BackingFs.Truncate(_handle, Layout.BackingLength(length));
        }

        SetSizeInHeader(length);
    }

    /// <summary>
    /// With the infrastructure layer every stored sector must authenticate, so sectors that would
    /// be holes are written as encrypted zeros.
    /// </summary>
    private void MaterializeHoles(long from, long to)
    {
        if (from >= to)
        {
            return;
        }

        int chunk = (int)Math.Min(MaxSectorsPerChunk, to - from);
        var zeros = ArrayPool<byte>.Shared.Rent(chunk * SectorSize);
        var stored = ArrayPool<byte>.Shared.Rent(chunk * Layout.Stride);
        try
        {
            Array.Clear(zeros);
            for (long sector = from; sector < to; sector += chunk)
            {
                int count = (int)Math.Min(chunk, to - sector);
                _cipher.EncryptSectors(sector, zeros.AsSpan(0, count * SectorSize), stored);
                BackingFs.WriteAt(_handle, stored.AsSpan(0, count * Layout.Stride), Layout.SectorOffset(sector));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    private void SetSizeInHeader(long size)
    {
        _cipher.SealSize(_header, size);
        BackingFs.WriteAt(_handle, _header, 0);
        Size = size;
    }

    private void RequireWritable()
    {
        ThrowIfUnusable();
        if (!Writable)
        {
            throw new FsException(Errno.EBADF, $"'{_displayPath}' is open read-only");
        }
    }
}

/// <summary>A re-encryption failed and could not be rolled back in place: the pass stops, the undo record stays for the next open.</summary>
public sealed class ReencryptionAbortedException : IOException
{
    public ReencryptionAbortedException()
    {
    }

    public ReencryptionAbortedException(string message)
        : base(message)
    {
    }

    public ReencryptionAbortedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

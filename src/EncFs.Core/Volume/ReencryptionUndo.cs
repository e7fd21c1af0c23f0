using System.Buffers.Binary;
using System.Text;
using EncFs.Core.Backing;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Core.Volume;

/// <summary>
/// The undo record of the one file being re-encrypted in place: its backing path (ciphertext
/// names only), inode, stored extended attributes and every stored byte as they were. Written
/// and synced before the first byte changes, deleted once the new keys are in place; a volume
/// opened with the record present rolls the file back (docs/FORMAT.md, "Re-encryption").
/// </summary>
internal static class ReencryptionUndo
{
    public const string FileName = "efs.reencrypt.undo";
    private const string TempName = FileName + ".tmp";
    private static ReadOnlySpan<byte> Magic => "EFSUNDO1"u8;

    /// <summary>
    /// A second name of the file being rewritten, beside the record: the file stays reachable by
    /// it whatever happens to its own names meanwhile (a rename, an unlink) until the commit.
    /// </summary>
    public const string PinName = "efs.reencrypt.target";

    public static string PinPath(string backingDir) => Path.Combine(backingDir, PinName);

    /// <summary>
    /// Pins the file at <paramref name="backingPath"/> (it must be the inode <paramref name="file"/>
    /// has open) and records its stored bytes and attributes. Nothing in the file changes here.
    /// </summary>
    public static void Save(string backingDir, string backingPath, SafeFileHandle file)
    {
        var status = BackingFs.Stat(file);
        var pin = PinPath(backingDir);
        if (BackingFs.TryStat(pin, out _))
        {
            BackingFs.Unlink(pin);
        }

        BackingFs.Link(backingPath, pin);
        if (BackingFs.Stat(pin).Inode != status.Inode)
        {
            BackingFs.Unlink(pin);
            throw new FsException(Errno.EAGAIN, $"'{backingPath}' was replaced while its re-encryption began; it is retried by the next pass");
        }

        var xattrs = EncryptedVolume.StoredXattrs(pin);
        var temp = Path.Combine(backingDir, TempName);
        using (var output = BackingFs.Open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC, 0x180))
        {
            using var header = new MemoryStream();
            header.Write(Magic);
            WriteInt64(header, (long)status.Inode);
            WriteBytes(header, Encoding.UTF8.GetBytes(PinName));
            WriteInt32(header, xattrs.Count);
            foreach (var (name, value) in xattrs)
            {
                WriteBytes(header, Encoding.UTF8.GetBytes(name));
                WriteBytes(header, value);
            }

            WriteInt64(header, status.Size);
            BackingFs.WriteAt(output, header.ToArray(), 0);
            CopyContent(file, output, header.Length, status.Size);
            BackingFs.Fsync(output);
        }

        BackingFs.Rename(temp, Path.Combine(backingDir, FileName));
        BackingFs.FsyncDirectory(backingDir);
    }

    /// <summary>The new keys are in place: the record goes (this is the commit point), then the pin.</summary>
    public static void Discard(string backingDir)
    {
        BackingFs.Unlink(Path.Combine(backingDir, FileName));
        BackingFs.FsyncDirectory(backingDir);
        BackingFs.Unlink(PinPath(backingDir));
    }

    /// <summary>Puts back what the record holds into <paramref name="file"/> (a failure midway, with the file still open).</summary>
    public static void Restore(string backingDir, SafeFileHandle file)
    {
        var record = Read(Path.Combine(backingDir, FileName));
        RestoreInto(record, file, PinPath(backingDir), Path.Combine(backingDir, FileName));
        Discard(backingDir);
    }

    /// <summary>At open: a record left by a crash rolls its file back; a half-written one is just removed.</summary>
    public static void RecoverAfterCrash(string backingDir, ILogger logger)
    {
        var temp = Path.Combine(backingDir, TempName);
        if (File.Exists(temp))
        {
            BackingFs.Unlink(temp); // the crash came before the file was touched
        }

        var path = Path.Combine(backingDir, FileName);
        if (!File.Exists(path))
        {
            if (BackingFs.TryStat(PinPath(backingDir), out _))
            {
                BackingFs.Unlink(PinPath(backingDir)); // committed, or never started: only the pin was left
            }

            return;
        }

        var record = Read(path);
        var target = PinPath(backingDir);
        if (record.RelativePath != PinName || !BackingFs.TryStat(target, out var status) || status.Inode != record.Inode)
        {
            var kept = path + "." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            BackingFs.Rename(path, kept);
            logger.LogError("Re-encryption undo record names {Path}, which is gone or was replaced; kept the record as {Kept}", record.RelativePath, kept);
            return;
        }

        using (var file = BackingFs.Open(target, Libc.O_RDWR))
        {
            RestoreInto(record, file, target, path);
        }

        Discard(backingDir);
        logger.LogWarning("Re-encryption of one file was interrupted; it was rolled back to its previous keys and will be redone");
    }

    private static void RestoreInto(Record record, SafeFileHandle file, string backingPath, string recordPath)
    {
        using (var input = BackingFs.Open(recordPath, Libc.O_RDONLY))
        {
            CopyContent(input, file, toOffset: 0, record.ContentLength, fromOffset: record.ContentOffset);
        }

        BackingFs.Truncate(file, record.ContentLength);

        // The recorded attributes go back first, then any other is removed: the file never
        // shows none of ours meanwhile (attribute reads take that as "no attributes").
        var current = EncryptedVolume.StoredXattrs(backingPath);
        foreach (var (name, value) in record.Xattrs)
        {
            BackingFs.SetXattr(backingPath, name, value, 0);
        }

        foreach (var (name, _) in current.Where(c => !record.Xattrs.Exists(r => r.Name == c.Name)))
        {
            BackingFs.RemoveXattr(backingPath, name);
        }

        BackingFs.Fsync(file);
    }

    private sealed record Record(ulong Inode, string RelativePath, List<(string Name, byte[] Value)> Xattrs, long ContentOffset, long ContentLength);

    private static Record Read(string path)
    {
        using var handle = BackingFs.Open(path, Libc.O_RDONLY);
        long length = BackingFs.Stat(handle).Size;
        var head = new byte[(int)Math.Min(length, 1 << 20)];
        int got = BackingFs.ReadAt(handle, head, 0);
        var reader = new SpanReader(head.AsSpan(0, got), path);
        if (!reader.Take(Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{path}' is not a re-encryption undo record");
        }

        ulong inode = (ulong)reader.Int64();
        var relative = Encoding.UTF8.GetString(reader.Bytes());
        int count = reader.Int32();
        var xattrs = new List<(string, byte[])>(count);
        for (int i = 0; i < count; i++)
        {
            xattrs.Add((Encoding.UTF8.GetString(reader.Bytes()), reader.Bytes().ToArray()));
        }

        long contentLength = reader.Int64();
        if (reader.Position + contentLength != length || relative.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            throw new InvalidDataException($"'{path}' is damaged: it cannot be used to roll back; move it away to open the volume");
        }

        return new Record(inode, relative, xattrs, reader.Position, contentLength);
    }

    private static void CopyContent(SafeFileHandle from, SafeFileHandle to, long toOffset, long length, long fromOffset = 0)
    {
        var buffer = new byte[1 << 20];
        for (long done = 0; done < length;)
        {
            int n = BackingFs.ReadAt(from, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - done)), fromOffset + done);
            if (n == 0)
            {
                throw new FsException(Errno.EIO, "unexpected end of file while copying for re-encryption");
            }

            BackingFs.WriteAt(to, buffer.AsSpan(0, n), toOffset + done);
            done += n;
        }
    }

    private static void WriteInt32(Stream stream, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void WriteInt64(Stream stream, long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void WriteBytes(Stream stream, ReadOnlySpan<byte> value)
    {
        WriteInt32(stream, value.Length);
        stream.Write(value);
    }

    private ref struct SpanReader(ReadOnlySpan<byte> data, string path)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || Position + count > _data.Length)
            {
                throw new InvalidDataException($"'{path}' is truncated: it cannot be used to roll back; move it away to open the volume");
            }

            var slice = _data.Slice(Position, count);
            Position += count;
            return slice;
        }

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public ReadOnlySpan<byte> Bytes() => Take(Int32());
    }
}

namespace EncFs.Core.Backing;

/// <summary>Replaces a small file so that a crash leaves either the old or the new content.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, uint mode = 0x180 /* 0600 */)
    {
        var temp = path + ".tmp";
        using (var handle = BackingFs.Open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC, mode))
        {
            BackingFs.WriteAt(handle, content, 0);
            BackingFs.Fsync(handle);
        }

        BackingFs.Rename(temp, path);
        BackingFs.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }
}

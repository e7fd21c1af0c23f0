using EncFs.Core.Backing;

namespace EncFs.Core.Import;

/// <summary>Checks on the two directories of an import, made before anything changes.</summary>
public static class ImportPaths
{
    /// <summary>
    /// Refuses a source that is the backing directory, inside it, or holds it: importing would
    /// read the volume's own files, or write into the tree being read. Compared by device and
    /// inode along the physical parents, so symlinks and other spellings of a path do not hide it.
    /// </summary>
    public static void CheckSeparate(string source, string backing)
    {
        var sourceId = Identity(source);
        var backingId = Identity(backing);
        if (PhysicalAncestors(source).Contains(backingId))
        {
            throw new ImportRefusedException($"'{source}' is the backing directory '{backing}' or inside it");
        }

        if (PhysicalAncestors(backing).Contains(sourceId))
        {
            throw new ImportRefusedException($"the backing directory '{backing}' is inside '{source}'");
        }
    }

    private static (ulong Device, ulong Inode) Identity(string path)
    {
        var status = BackingFs.Stat(Path.TrimEndingDirectorySeparator(path) + "/.");
        return (status.Device, status.Inode);
    }

    /// <summary>The directory itself and every directory above it, up to the filesystem root.</summary>
    private static HashSet<(ulong Device, ulong Inode)> PhysicalAncestors(string directory)
    {
        var found = new HashSet<(ulong, ulong)>();
        var path = Path.TrimEndingDirectorySeparator(directory);
        while (found.Add(Identity(path)))
        {
            // "x/.." is the kernel's parent of x, even when x was reached through a symlink.
            path += "/..";
        }

        return found;
    }
}

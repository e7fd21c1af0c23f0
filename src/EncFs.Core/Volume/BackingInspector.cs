using EncFs.Core.Format;

namespace EncFs.Core.Volume;

/// <summary>
/// What the backing directory says without any key: the volume header's scopes and, for one
/// backing entry, the scope and key generation it is encrypted under. The header is read but,
/// lacking the key, not authenticated.
/// </summary>
public static class BackingInspector
{
    /// <summary>The backing directory of the volume that contains <paramref name="path"/>, or null.</summary>
    public static string? FindVolumeRoot(string path)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(path)); dir is not null; dir = dir.Parent)
        {
            if (VolumeHeaderFile.Exists(dir.FullName))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    public static VolumeHeader ReadHeader(string backingDir)
    {
        var problems = new List<string>();
        return VolumeHeaderFile.ReadCandidates(backingDir, problems).FirstOrDefault()?.Header
            ?? throw new InvalidDataException("cannot read the volume header: " + string.Join("; ", problems));
    }

    /// <summary>The encryption status of a backing file or directory inside the volume's tree.</summary>
    public static EncryptionStatus Inspect(string backingDir, string backingPath)
    {
        var header = ReadHeader(backingDir);
        var full = Path.GetFullPath(backingPath);
        Guid128 scopeId;
        int generation;
        string kind;
        if (Directory.Exists(full) && !new FileInfo(full).Attributes.HasFlag(FileAttributes.ReparsePoint))
        {
            var record = DirectoryRecord.Decode(File.ReadAllBytes(Path.Combine(full, DirectoryRecord.FileName)));
            (scopeId, generation, kind) = (record.ScopeId, record.Generation, "directory");
        }
        else
        {
            var bytes = new byte[FileHeader.Size];
            using (var stream = File.OpenRead(full))
            {
                stream.ReadAtLeast(bytes, FileHeader.Size, throwOnEndOfStream: false);
            }

            var fileHeader = FileHeader.ReadFixedPart(bytes);
            (scopeId, generation, kind) = (fileHeader.ScopeId, fileHeader.Generation, "file");
        }

        var scope = header.FindScope(scopeId.ToString())
            ?? throw new InvalidDataException($"'{full}' names scope {scopeId}, which the volume header does not have");
        var key = scope.FindKey(generation);
        return new EncryptionStatus(full, kind, scope.Id, scope.Name, scope.State, scope.KeySourceType, key?.KekId ?? "?", key?.KekVersion ?? "?", generation, scope.InfrastructureEncryption, header.SectorSize);
    }
}

using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>What a new volume is made of; fixed for its lifetime.</summary>
public sealed record VolumeCreateOptions
{
    public int SectorSize { get; init; } = Format.SectorLayout.DefaultSectorSize;

    public bool InfrastructureEncryption { get; init; }

    public string DefaultScopeName { get; init; } = "default";
}

/// <summary>How to open a volume.</summary>
public sealed record VolumeOpenOptions
{
    /// <summary>Read-only opens take no lock and never write to the backing directory.</summary>
    public bool ReadOnly { get; init; }

    public ILogger? Logger { get; init; }

    /// <summary>Where unwraps, scope changes and denials are recorded (default: nowhere).</summary>
    public Audit.IAuditLog? Audit { get; init; }

    /// <summary>How long a key source may take to give a scope's key before the scope counts as unavailable.</summary>
    public TimeSpan KeySourceTimeout { get; init; } = Keys.KeySourceCall.DefaultTimeout;
}

/// <summary>Mode and owner of a new entry, and the scope it is created in (null: the directory's).</summary>
public readonly record struct CreateOptions(uint Mode, uint? Uid = null, uint? Gid = null, string? Scope = null, bool? DenyOverride = null);

/// <summary>A directory entry; Status is filled when asked for (readdirplus).</summary>
public readonly record struct DirectoryEntry(string Name, uint Type, Backing.FileStatus? Status);

[Flags]
public enum RenameFlags : uint
{
    None = 0,
    NoReplace = 1,
    Exchange = 2,
}

public enum XattrMode
{
    CreateOrReplace = 0,
    Create = 1,
    Replace = 2,
}

/// <summary>"Check the encryption status": how one entry is encrypted.</summary>
public sealed record EncryptionStatus(
    string Path,
    string Kind,
    string ScopeId,
    string ScopeName,
    string ScopeState,
    string KeySource,
    string KekId,
    string KekVersion,
    int DekGeneration,
    bool InfrastructureEncryption,
    int SectorSize)
{
    public string DataCipher => "AES-256-XTS";

    public string? InfrastructureCipher => InfrastructureEncryption ? "ChaCha20-Poly1305" : null;
}

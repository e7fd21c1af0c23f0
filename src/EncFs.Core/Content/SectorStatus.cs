namespace EncFs.Core.Content;

/// <summary>What reading one stored sector found.</summary>
public enum SectorStatus
{
    /// <summary>Decrypted (and, with the infrastructure layer, authenticated).</summary>
    Ok,

    /// <summary>All zero bytes without the infrastructure layer: a hole, reads as zeros.</summary>
    Hole,

    /// <summary>Failed authentication: tampered, moved, or damaged.</summary>
    Damaged,
}

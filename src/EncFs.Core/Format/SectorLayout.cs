namespace EncFs.Core.Format;

/// <summary>Where plaintext sectors live in a backing file (docs/FORMAT.md section 4).</summary>
public readonly record struct SectorLayout(int SectorSize, bool Infrastructure)
{
    public const int MinSectorSize = 512, MaxSectorSize = 65536, DefaultSectorSize = 4096;
    public const int SealOverhead = 28;

    public int Stride => Infrastructure ? SectorSize + SealOverhead : SectorSize;

    public static bool IsValidSectorSize(int size) =>
        size is >= MinSectorSize and <= MaxSectorSize && (size & (size - 1)) == 0;

    public long SectorOffset(long sector) => FileHeader.Size + (sector * Stride);

    public long SectorCount(long plaintextSize) => (plaintextSize + SectorSize - 1) / SectorSize;

    /// <summary>The backing length that holds exactly the sectors of a file of this size.</summary>
    public long BackingLength(long plaintextSize) => SectorOffset(SectorCount(plaintextSize));
}

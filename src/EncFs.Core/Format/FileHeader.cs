using System.Buffers.Binary;

namespace EncFs.Core.Format;

/// <summary>
/// The 96-byte header of a backing file (docs/FORMAT.md section 4). The logical size is sealed
/// with AES-256-GCM under the file's header key; the rest is its associated data.
/// </summary>
public struct FileHeader
{
    public const int Size = 96;
    public const int AuthenticatedLength = 48;
    public const int SizeNonceOffset = 48, SizeCipherOffset = 60, SizeTagOffset = 68;
    public const byte Version = 1;
    private const byte FlagInfrastructure = 1;
    private static ReadOnlySpan<byte> Magic => "EFSF"u8;

    public Guid128 FileId;
    public Guid128 ScopeId;
    public int Generation;
    public int SectorShift;
    public bool Infrastructure;

    public readonly int SectorSize => 1 << SectorShift;

    /// <summary>The header of a new file: a fresh random id, the given scope generation and layout.</summary>
    public static FileHeader ForNewFile(Guid128 scopeId, int generation, SectorLayout layout) => new()
    {
        FileId = Guid128.NewRandom(),
        ScopeId = scopeId,
        Generation = generation,
        SectorShift = System.Numerics.BitOperations.Log2((uint)layout.SectorSize),
        Infrastructure = layout.Infrastructure,
    };

    /// <summary>Writes bytes 0..47, the authenticated part.</summary>
    public readonly void WriteFixedPart(Span<byte> header)
    {
        header[..Size].Clear();
        Magic.CopyTo(header);
        header[4] = Version;
        header[5] = Infrastructure ? FlagInfrastructure : (byte)0;
        header[6] = (byte)SectorShift;
        FileId.WriteTo(header[8..24]);
        ScopeId.WriteTo(header[24..40]);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..44], Generation);
    }

    /// <summary>Parses bytes 0..47; says precisely what is wrong with a damaged header.</summary>
    public static FileHeader ReadFixedPart(ReadOnlySpan<byte> header)
    {
        if (header.Length < Size)
        {
            throw new InvalidDataException($"file header truncated ({header.Length} of {Size} bytes)");
        }

        if (!header[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException("not an EncFs file (bad magic)");
        }

        if (header[4] != Version)
        {
            throw new InvalidDataException($"file format version {header[4]} is not supported (this efs reads {Version})");
        }

        if ((header[5] & ~FlagInfrastructure) != 0 || header[6] is < 9 or > 16)
        {
            throw new InvalidDataException("file header has unknown flags or sector size");
        }

        return new FileHeader
        {
            Infrastructure = (header[5] & FlagInfrastructure) != 0,
            SectorShift = header[6],
            FileId = Guid128.Read(header[8..24]),
            ScopeId = Guid128.Read(header[24..40]),
            Generation = BinaryPrimitives.ReadInt32LittleEndian(header[40..44]),
        };
    }
}

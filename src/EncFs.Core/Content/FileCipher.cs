using System.Security.Cryptography;
using System.Buffers;
using System.Buffers.Binary;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Core.Content;

/// <summary>
/// Encrypts one file's sectors (AES-256-XTS, optionally sealed by the infrastructure layer) and
/// its logical size (docs/FORMAT.md section 4). Thread-safe; holds the file's derived keys.
/// </summary>
public sealed class FileCipher : IDisposable
{
    private const int AadSize = Guid128.Size + sizeof(ulong);
    private readonly XtsSectorCipher _xts;
    private readonly SectorSealer? _sealer;
    private readonly AesGcm _headerSeal;
    private readonly Guid128 _fileId;

    public FileCipher(ScopeKeys keys, Guid128 fileId, SectorLayout layout)
    {
        Layout = layout;
        _fileId = fileId;
        using (var dataKey = keys.FileDataKey(fileId))
        {
            _xts = new XtsSectorCipher(dataKey.Span);
        }

        if (layout.Infrastructure)
        {
            using var infraKey = keys.FileInfrastructureKey(fileId);
            _sealer = new SectorSealer(infraKey.Span);
        }

        using (var headerKey = keys.FileHeaderKey(fileId))
        {
            _headerSeal = new AesGcm(headerKey.Span, SizeSeal.TagSize);
        }
    }

    public SectorLayout Layout { get; }

    /// <summary>Encrypts whole plaintext sectors into their stored form, stride by stride.</summary>
    public void EncryptSectors(long firstSector, ReadOnlySpan<byte> plaintext, Span<byte> stored)
    {
        int size = Layout.SectorSize;
        if (_sealer is null)
        {
            _xts.EncryptSectors((ulong)firstSector, size, plaintext, stored[..plaintext.Length]);
            return;
        }

        var xts = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            Span<byte> aad = stackalloc byte[AadSize];
            for (int i = 0; i * size < plaintext.Length; i++)
            {
                long sector = firstSector + i;
                _xts.Encrypt((ulong)sector, plaintext.Slice(i * size, size), xts.AsSpan(0, size));
                WriteAad(aad, sector);
                _sealer.Seal(aad, xts.AsSpan(0, size), stored.Slice(i * Layout.Stride, Layout.Stride));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(xts);
        }
    }

    /// <summary>Decrypts one stored sector (exactly one stride) into a full plaintext sector.</summary>
    public SectorStatus DecryptSector(long sector, ReadOnlySpan<byte> stored, Span<byte> plaintext)
    {
        if (_sealer is null)
        {
            if (!stored.ContainsAnyExcept((byte)0))
            {
                plaintext.Clear();
                return SectorStatus.Hole;
            }

            _xts.Decrypt((ulong)sector, stored, plaintext);
            return SectorStatus.Ok;
        }

        Span<byte> aad = stackalloc byte[AadSize];
        WriteAad(aad, sector);
        if (!_sealer.TryOpen(aad, stored, plaintext))
        {
            plaintext.Clear();
            return SectorStatus.Damaged;
        }

        _xts.Decrypt((ulong)sector, plaintext, plaintext);
        return SectorStatus.Ok;
    }

    /// <summary>Seals the logical size into a header whose fixed part is written.</summary>
    /// <remarks>Not thread-safe (AesGcm is not): callers hold the file's write lock.</remarks>
    public void SealSize(Span<byte> header, long size) => SizeSeal.Seal(_headerSeal, header, size);

    /// <summary>The logical size, or null when the header does not authenticate.</summary>
    public long? OpenSize(ReadOnlySpan<byte> header) => SizeSeal.Open(_headerSeal, header);

    public void Dispose()
    {
        _xts.Dispose();
        _sealer?.Dispose();
        _headerSeal.Dispose();
    }

    private void WriteAad(Span<byte> aad, long sector)
    {
        _fileId.WriteTo(aad);
        BinaryPrimitives.WriteUInt64LittleEndian(aad[Guid128.Size..], (ulong)sector);
    }
}

using System.Text;
using EncFs.Core.Format;
using EncFs.Core.Names;
using EncFs.Crypto;

namespace EncFs.Core.Keys;

/// <summary>
/// The unwrapped keys of one scope generation and everything derived from them
/// (docs/FORMAT.md section 3). Disposing zeroes them.
/// </summary>
public sealed class ScopeKeys : IDisposable
{
    private readonly SecretKey _dek;
    private readonly SecretKey? _infrastructureKey;
    private readonly Lazy<NameCipher> _names;

    public ScopeKeys(Guid128 scopeId, int generation, SecretKey dek, SecretKey? infrastructureKey)
    {
        ScopeId = scopeId;
        Generation = generation;
        _dek = dek;
        _infrastructureKey = infrastructureKey;
        _names = new Lazy<NameCipher>(() =>
        {
            using var key = Derive(_dek, default, "EncFs/v1/names", 64);
            return new NameCipher(key.Span);
        });
    }

    public Guid128 ScopeId { get; }

    public int Generation { get; }

    public bool HasInfrastructureKey => _infrastructureKey is not null;

    public NameCipher Names => _names.Value;

    /// <summary>The raw DEK, for escrow (efs recover) only.</summary>
    public ReadOnlySpan<byte> DataEncryptionKey => _dek.Span;

    /// <summary>DEK || infrastructure key, as wrapped: for re-wrapping only; the caller disposes it.</summary>
    internal SecretKey Material()
    {
        if (_infrastructureKey is null)
        {
            return SecretKey.Copy(_dek.Span);
        }

        var both = new byte[_dek.Length + _infrastructureKey.Length];
        try
        {
            _dek.Span.CopyTo(both);
            _infrastructureKey.Span.CopyTo(both.AsSpan(_dek.Length));
            return SecretKey.Copy(both);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(both);
        }
    }

    /// <summary>The raw infrastructure key in hex, for escrow only; null without the layer.</summary>
    public string? InfrastructureKeyHex() => _infrastructureKey?.ToHex();

    public SecretKey FileDataKey(Guid128 fileId) => Derive(_dek, fileId, "EncFs/v1/xts", 64);

    public SecretKey FileHeaderKey(Guid128 fileId) => Derive(_dek, fileId, "EncFs/v1/header", 32);

    public SecretKey FileInfrastructureKey(Guid128 fileId) =>
        Derive(_infrastructureKey ?? throw new InvalidOperationException("the scope has no infrastructure key"), fileId, "EncFs/v1/infra", 32);

    public SecretKey DirectoryRecordKey(Guid128 directoryId) => Derive(_dek, directoryId, "EncFs/v1/dir", 32);

    public SecretKey VolumeHeaderKey() => Derive(_dek, default, "EncFs/v1/volume-header", 32);

    public void Dispose()
    {
        if (_names.IsValueCreated)
        {
            _names.Value.Dispose();
        }

        _dek.Dispose();
        _infrastructureKey?.Dispose();
    }

    private static SecretKey Derive(SecretKey ikm, Guid128? salt, string info, int length)
    {
        Span<byte> saltBytes = stackalloc byte[Guid128.Size];
        salt?.WriteTo(saltBytes);
        return KeyDerivation.Hkdf(ikm.Span, salt is null ? default : saltBytes, Encoding.UTF8.GetBytes(info), length);
    }
}

using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Keys.Local;

/// <summary>
/// A KEK held in this process (derived from a passphrase, or provided by the user): wraps with
/// AES-256-GCM, binding the associated data. The key bytes are pinned and zeroed on dispose.
/// </summary>
public sealed class LocalKek : IKeyEncryptionKey
{
    private readonly SecretKey _key;

    public LocalKek(SecretKey key, string keyId, string keyVersion)
    {
        if (key.Length != KeyWrap.KekSize)
        {
            throw new ArgumentException($"a KEK is {KeyWrap.KekSize} bytes, not {key.Length}", nameof(key));
        }

        _key = key;
        KeyId = keyId;
        KeyVersion = keyVersion;
    }

    public string KeyId { get; }

    public string KeyVersion { get; }

    public byte[] Wrap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData) =>
        KeyWrap.Wrap(_key.Span, key, associatedData);

    public SecretKey Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData)
    {
        if (KeyWrap.TryUnwrap(_key.Span, wrapped, associatedData, out var key))
        {
            return key;
        }

        throw new WrongKeyException();
    }

    /// <summary>A second owner of the same key bytes, for callers that dispose what they get.</summary>
    public LocalKek Clone() => new(SecretKey.Copy(_key.Span), KeyId, KeyVersion);

    public void Dispose() => _key.Dispose();
}

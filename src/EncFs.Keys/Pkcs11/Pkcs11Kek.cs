using System.Security.Cryptography;
using EncFs.Core.Keys;
using EncFs.Crypto;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace EncFs.Keys.Pkcs11;

/// <summary>
/// A KEK that never leaves a PKCS#11 token: an AES-256 secret key object (sensitive, not
/// extractable). Wrap is C_Encrypt with CKM_AES_GCM (random 96-bit IV, the associated data as
/// AAD, 128-bit tag) and stores IV || ciphertext || tag; unwrap is C_Decrypt. Each operation
/// opens its own session and logs in with the PIN this object holds (zeroed on dispose).
/// </summary>
public sealed class Pkcs11Kek : IKeyEncryptionKey
{
    public const int IvSize = 12;
    public const int TagSize = 16;

    private readonly Pkcs11Module _module;
    private readonly SecretKey _pin;
    private readonly string _token;
    private readonly string? _serial;
    private readonly string _label;
    private readonly byte[]? _id;
    private bool _disposed;

    internal Pkcs11Kek(Pkcs11Module module, string token, string? serial, string label, byte[]? id, SecretKey pin)
    {
        _module = module;
        _token = token;
        _serial = serial;
        _label = label;
        _id = id is { Length: > 0 } ? id : null;
        _pin = pin;
        KeyId = token + "/" + label;
        KeyVersion = _id is null ? "1" : Convert.ToHexStringLower(_id);
    }

    public string KeyId { get; }

    public string KeyVersion { get; }

    /// <summary>Checks that the token answers, the PIN opens it and the key is there.</summary>
    public void Probe() => Run((_, _) => 0);

    public byte[] Wrap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData)
    {
        var plain = key.ToArray();
        var aad = associatedData.ToArray();
        try
        {
            var iv = RandomNumberGenerator.GetBytes(IvSize);
            var sealedKey = Run((session, handle) =>
            {
                using var parameters = session.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, IvSize * 8, aad, TagSize * 8);
                using var mechanism = session.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
                return session.Encrypt(mechanism, handle, plain);
            });
            if (sealedKey.Length != plain.Length + TagSize)
            {
                throw new KeyAccessException($"PKCS#11 key '{KeyId}': AES-GCM returned {sealedKey.Length} bytes, expected {plain.Length + TagSize}");
            }

            return [.. iv, .. sealedKey];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    public SecretKey Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData)
    {
        if (wrapped.Length <= IvSize + TagSize)
        {
            throw new WrongKeyException($"PKCS#11 key '{KeyId}': the wrapped key is too short to be AES-GCM output");
        }

        var iv = wrapped[..IvSize].ToArray();
        var sealedKey = wrapped[IvSize..].ToArray();
        var aad = associatedData.ToArray();
        byte[] plain = Run((session, handle) =>
        {
            using var parameters = session.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, IvSize * 8, aad, TagSize * 8);
            using var mechanism = session.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
            try
            {
                return session.Decrypt(mechanism, handle, sealedKey);
            }
            catch (Pkcs11Exception e) when (e.RV is CKR.CKR_ENCRYPTED_DATA_INVALID or CKR.CKR_ENCRYPTED_DATA_LEN_RANGE or CKR.CKR_SIGNATURE_INVALID
                or CKR.CKR_GENERAL_ERROR or CKR.CKR_FUNCTION_FAILED)
            {
                // PKCS#11 3.0 answers a failed GCM tag with CKR_ENCRYPTED_DATA_INVALID; SoftHSM2
                // 2.6 (OpenSSL backend) answers CKR_GENERAL_ERROR from its EVP_DecryptFinal. The
                // session, login and key lookup have succeeded by now, so either means the tag.
                throw new WrongKeyException($"PKCS#11 key '{KeyId}' does not open this wrapped key (GCM authentication failed: another key, or the header was altered; token said {e.RV})", e);
            }
        });
        try
        {
            return SecretKey.Copy(plain);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _pin.Dispose();
        _module.Dispose();
    }

    /// <summary>Deletes the key object from the token: whatever it wrapped is lost for good.</summary>
    internal void DestroyKey() => Run((session, handle) =>
    {
        session.DestroyObject(handle);
        return 0;
    });

    private T Run<T>(Func<ISession, IObjectHandle, T> operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            var slot = Pkcs11Token.FindSlot(_module, _token, _serial);
            using var session = slot.OpenSession(SessionType.ReadWrite);
            Pkcs11Token.Login(session, _pin, _token);
            var handle = Pkcs11Token.FindKey(session, _label, _id)
                ?? throw new KeyAccessException($"PKCS#11 key '{_label}'{(_id is null ? string.Empty : $" (id {KeyVersion})")} is not in token '{_token}': deleted or revoked; the scope it protects cannot be opened");
            return operation(session, handle);
        }
        catch (Pkcs11Exception e)
        {
            throw new KeyAccessException($"PKCS#11 key '{KeyId}' in module '{_module.Path}': {e.RV} ({e.Method})", e);
        }
    }
}

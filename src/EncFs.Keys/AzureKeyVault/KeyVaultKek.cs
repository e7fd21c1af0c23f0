using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>
/// A KEK in Azure Key Vault or Managed HSM: wrap and unwrap happen in the vault
/// (RSA-OAEP-256 for RSA keys, A256KW for oct-HSM keys); the key never leaves it.
/// Key Vault's wrap takes no associated data, so it is bound here:
/// <code>
/// wrapped = 0x01
///         || u16be len || versioned kid (UTF-8)
///         || u16be len || algorithm (UTF-8)
///         || u16be len || the vault's wrapped key
///         || HMAC-SHA256(HKDF-SHA256(ikm = unwrapped key, salt = empty, info = "EncFs/v1/kv-binding", 32), associatedData)
/// </code>
/// Unwrap uses the key version recorded in the wrapped form (so it works after rotation)
/// and checks the HMAC; a mismatch is a <see cref="WrongKeyException"/>.
/// </summary>
public sealed class KeyVaultKek : IKeyEncryptionKey
{
    public const byte FormatVersion = 1;
    private const int MacSize = 32;
    private static readonly byte[] BindingInfo = Encoding.ASCII.GetBytes("EncFs/v1/kv-binding");

    private readonly KeyVaultClient _client;
    private readonly KeyVaultKeyId _key;
    private readonly string _algorithm;

    internal KeyVaultKek(KeyVaultClient client, KeyVaultKeyId versionedKey, string algorithm)
    {
        _client = client;
        _key = versionedKey;
        _algorithm = algorithm;
    }

    /// <summary>The key URL without version.</summary>
    public string KeyId => _key.VersionlessUrl;

    /// <summary>The key version that <see cref="Wrap"/> uses.</summary>
    public string KeyVersion => _key.Version ?? string.Empty;

    /// <summary>The wrap algorithm Key Vault is asked for.</summary>
    public string Algorithm => _algorithm;

    /// <summary>The wrap algorithm for a key type: RSA-OAEP-256 for RSA keys, A256KW for oct (HSM) keys.</summary>
    public static string AlgorithmFor(string keyType)
    {
        ArgumentNullException.ThrowIfNull(keyType);
        if (keyType.StartsWith("RSA", StringComparison.OrdinalIgnoreCase))
        {
            return "RSA-OAEP-256";
        }

        if (keyType.StartsWith("oct", StringComparison.OrdinalIgnoreCase))
        {
            return "A256KW";
        }

        throw new KeyAccessException($"Key Vault key type '{keyType}' cannot wrap keys (an RSA or oct-HSM key is needed)");
    }

    public byte[] Wrap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData)
    {
        var vaultWrapped = _client.WrapKey(_key, _algorithm, key);
        var kid = Encoding.UTF8.GetBytes(_key.Url.ToString());
        var alg = Encoding.UTF8.GetBytes(_algorithm);
        var output = new byte[1 + 2 + kid.Length + 2 + alg.Length + 2 + vaultWrapped.Length + MacSize];
        var span = output.AsSpan();
        span[0] = FormatVersion;
        var at = 1;
        at = Put(span, at, kid);
        at = Put(span, at, alg);
        at = Put(span, at, vaultWrapped);
        Mac(key, associatedData, span[at..]);
        return output;
    }

    public SecretKey Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData)
    {
        if (wrapped.Length < 1 || wrapped[0] != FormatVersion)
        {
            throw new WrongKeyException("the wrapped key is not a Key Vault wrapped key of this format");
        }

        var at = 1;
        if (!Take(wrapped, ref at, out var kidBytes) || !Take(wrapped, ref at, out var algBytes) || !Take(wrapped, ref at, out var vaultWrapped)
            || wrapped.Length - at != MacSize)
        {
            throw new WrongKeyException("the Key Vault wrapped key is truncated or malformed");
        }

        KeyVaultKeyId kid;
        string alg;
        try
        {
            kid = KeyVaultKeyId.Parse(Encoding.UTF8.GetString(kidBytes));
            alg = Encoding.UTF8.GetString(algBytes);
        }
        catch (Exception e) when (e is KeyAccessException or ArgumentException)
        {
            throw new WrongKeyException("the Key Vault wrapped key names no valid key");
        }

        if (kid.Version is null || !string.Equals(kid.VersionlessUrl, KeyId, StringComparison.OrdinalIgnoreCase))
        {
            throw new WrongKeyException($"the key was wrapped by Key Vault key {kid}, not by {KeyId}");
        }

        var material = _client.UnwrapKey(kid, alg, vaultWrapped);
        try
        {
            Span<byte> mac = stackalloc byte[MacSize];
            Mac(material, associatedData, mac);
            if (!CryptographicOperations.FixedTimeEquals(mac, wrapped[at..]))
            {
                throw new WrongKeyException($"the key unwrapped by Key Vault key {kid} does not belong here (associated data mismatch)");
            }

            return SecretKey.Copy(material);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    public void Dispose()
    {
    }

    private static void Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData, Span<byte> output)
    {
        Span<byte> macKey = stackalloc byte[32];
        try
        {
            KeyDerivation.Hkdf(key, [], BindingInfo, macKey);
            HMACSHA256.HashData(macKey, associatedData, output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
        }
    }

    private static int Put(Span<byte> output, int at, ReadOnlySpan<byte> field)
    {
        BinaryPrimitives.WriteUInt16BigEndian(output[at..], checked((ushort)field.Length));
        field.CopyTo(output[(at + 2)..]);
        return at + 2 + field.Length;
    }

    private static bool Take(ReadOnlySpan<byte> input, ref int at, out ReadOnlySpan<byte> field)
    {
        field = default;
        if (input.Length - at < 2)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(input[at..]);
        if (input.Length - at - 2 < length)
        {
            return false;
        }

        field = input.Slice(at + 2, length);
        at += 2 + length;
        return true;
    }
}

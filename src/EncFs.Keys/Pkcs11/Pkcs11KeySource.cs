using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Crypto;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace EncFs.Keys.Pkcs11;

/// <summary>
/// The PKCS#11 key source (a customer-managed key in an HSM): <c>pkcs11:token=T;object=L?module-path=M</c>.
/// The KEK is an AES-256 secret key object in the token, never extractable; wrap and unwrap
/// run inside the token. The volume header keeps the URI without any PIN attribute, the token
/// and key labels and the key's CKA_ID. Deleting the key object from the token revokes the
/// scope for good.
/// </summary>
public static class Pkcs11KeySource
{
    public const string Type = "pkcs11";
    public const int KeySize = 32;

    /// <summary>
    /// Finds the key labelled by the URI's object= in its token, or generates it there
    /// (C_GenerateKey CKM_AES_KEY_GEN, CKA_ID random); returns the descriptor to store and the
    /// KEK. <paramref name="generated"/> says whether the key is new (so that a failed init can delete it).
    /// </summary>
    public static (JsonObject Descriptor, Pkcs11Kek Kek) Create(Pkcs11Uri uri, ReadOnlySpan<byte> pin, out bool generated)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var token = uri.Token ?? throw new KeyAccessException("the PKCS#11 URI names no token: add token=<label>");
        var label = uri.Object ?? throw new KeyAccessException("the PKCS#11 URI names no key: add object=<key label>");
        var module = Pkcs11Module.Acquire(uri.ModulePath ?? string.Empty);
        using var pinKey = SecretKey.Copy(pin);
        byte[]? id;
        try
        {
            var slot = Pkcs11Token.FindSlot(module, token, uri.Serial);
            using var session = slot.OpenSession(SessionType.ReadWrite);
            Pkcs11Token.Login(session, pinKey, token);
            var existing = Pkcs11Token.FindKey(session, label, uri.Id);
            if (existing is null)
            {
                id = uri.Id ?? RandomNumberGenerator.GetBytes(8);
                Generate(session, label, id);
                generated = true;
            }
            else
            {
                id = CheckExisting(session, existing, label);
                generated = false;
            }
        }
        catch (Pkcs11Exception e)
        {
            module.Dispose();
            throw new KeyAccessException($"PKCS#11 token '{token}' in module '{uri.ModulePath}': {e.RV} ({e.Method})", e);
        }
        catch
        {
            module.Dispose();
            throw;
        }

        var kek = new Pkcs11Kek(module, token, uri.Serial, label, id, SecretKey.Copy(pin));
        var stored = Pkcs11Uri.Parse(WithId(uri, id).ToStorableString());
        var descriptor = new JsonObject
        {
            ["type"] = Type,
            ["uri"] = stored.ToStorableString(),
            ["token"] = token,
            ["label"] = label,
            ["id"] = id is { Length: > 0 } ? Convert.ToHexStringLower(id) : null,
        };
        return (descriptor, kek);
    }

    /// <summary>Opens the scope's KEK: loads the module, logs in and checks the key is there.</summary>
    public static Pkcs11Kek Open(JsonObject descriptor, ReadOnlySpan<byte> pin)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var text = descriptor["uri"]?.GetValue<string>() ?? throw new InvalidDataException("the pkcs11 key source in the volume header has no uri");
        Pkcs11Uri uri;
        try
        {
            uri = Pkcs11Uri.Parse(text);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"the pkcs11 key source in the volume header has a bad uri: {e.Message}", e);
        }

        var token = uri.Token ?? throw new InvalidDataException("the pkcs11 uri in the volume header names no token");
        var label = uri.Object ?? throw new InvalidDataException("the pkcs11 uri in the volume header names no key");
        var module = Pkcs11Module.Acquire(uri.ModulePath ?? string.Empty);
        var kek = new Pkcs11Kek(module, token, uri.Serial, label, uri.Id, SecretKey.Copy(pin));
        try
        {
            kek.Probe();
            return kek;
        }
        catch
        {
            kek.Dispose();
            throw;
        }
    }

    /// <summary>Deletes the scope's key object from its token (crypto-erase of the scope).</summary>
    public static void Destroy(JsonObject descriptor, ReadOnlySpan<byte> pin)
    {
        using var kek = Open(descriptor, pin);
        kek.DestroyKey();
    }

    /// <summary>Deletes the key object behind an open KEK (a failed init removes the key it generated).</summary>
    public static void DestroyKey(Pkcs11Kek kek)
    {
        ArgumentNullException.ThrowIfNull(kek);
        kek.DestroyKey();
    }

    /// <summary>
    /// The PIN the URI itself carries (pin-value, or the file of pin-source, final newline
    /// dropped), or null. The caller zeroes the array.
    /// </summary>
    public static byte[]? ReadPinFromUri(Pkcs11Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.PinValue is { } value)
        {
            return value;
        }

        if (uri.PinSource is not { } source)
        {
            return null;
        }

        var path = Pkcs11Uri.ResolvePinSourcePath(source)!;
        try
        {
            return TrimNewline(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyAccessException($"cannot read the PIN file '{path}' named by pin-source: {e.Message}", e);
        }
    }

    /// <summary>Drops a final newline (and carriage return), zeroing the original.</summary>
    public static byte[] TrimNewline(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        int length = bytes.Length;
        while (length > 0 && bytes[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }

        if (length == bytes.Length)
        {
            return bytes;
        }

        var trimmed = bytes.AsSpan(0, length).ToArray();
        CryptographicOperations.ZeroMemory(bytes);
        return trimmed;
    }

    private static void Generate(ISession session, string label, byte[] id)
    {
        var factory = session.Factories.ObjectAttributeFactory;
        var template = new List<IObjectAttribute>
        {
            factory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            factory.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
            factory.Create(CKA.CKA_VALUE_LEN, (ulong)KeySize),
            factory.Create(CKA.CKA_TOKEN, true),
            factory.Create(CKA.CKA_PRIVATE, true),
            factory.Create(CKA.CKA_SENSITIVE, true),
            factory.Create(CKA.CKA_EXTRACTABLE, false),
            factory.Create(CKA.CKA_ENCRYPT, true),
            factory.Create(CKA.CKA_DECRYPT, true),
            factory.Create(CKA.CKA_SIGN, false),
            factory.Create(CKA.CKA_VERIFY, false),
            factory.Create(CKA.CKA_DERIVE, false),
            factory.Create(CKA.CKA_WRAP, false),
            factory.Create(CKA.CKA_UNWRAP, false),
            factory.Create(CKA.CKA_LABEL, Encoding.UTF8.GetBytes(label)),
            factory.Create(CKA.CKA_ID, id),
        };
        try
        {
            using var mechanism = session.Factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN);
            session.GenerateKey(mechanism, template);
        }
        finally
        {
            foreach (var attribute in template)
            {
                attribute.Dispose();
            }
        }
    }

    /// <summary>Refuses a key that could leave the token or cannot serve as an AES-256 KEK; returns its CKA_ID.</summary>
    private static byte[]? CheckExisting(ISession session, IObjectHandle key, string label)
    {
        var attributes = session.GetAttributeValue(key, [CKA.CKA_VALUE_LEN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_ENCRYPT, CKA.CKA_DECRYPT, CKA.CKA_TOKEN, CKA.CKA_ID]);
        try
        {
            if (attributes[0].GetValueAsUlong() != KeySize)
            {
                throw new KeyAccessException($"PKCS#11 key '{label}' is AES-{attributes[0].GetValueAsUlong() * 8}, not AES-256");
            }

            if (!attributes[1].GetValueAsBool() || attributes[2].GetValueAsBool())
            {
                throw new KeyAccessException($"PKCS#11 key '{label}' is extractable or not sensitive: a KEK must never leave the token");
            }

            if (!attributes[3].GetValueAsBool() || !attributes[4].GetValueAsBool())
            {
                throw new KeyAccessException($"PKCS#11 key '{label}' does not allow encrypt and decrypt (CKA_ENCRYPT, CKA_DECRYPT)");
            }

            if (!attributes[5].GetValueAsBool())
            {
                throw new KeyAccessException($"PKCS#11 key '{label}' is a session object (CKA_TOKEN false): it would vanish at logout");
            }

            var id = attributes[6].CannotBeRead ? null : attributes[6].GetValueAsByteArray();
            return id is { Length: > 0 } ? id : null;
        }
        finally
        {
            foreach (var attribute in attributes)
            {
                attribute.Dispose();
            }
        }
    }

    private static Pkcs11Uri WithId(Pkcs11Uri uri, byte[]? id)
    {
        if (id is null || uri.Id is not null)
        {
            return uri;
        }

        var text = uri.ToSecretString();
        int question = text.IndexOf('?', StringComparison.Ordinal);
        var idAttribute = ";id=" + string.Concat(id.Select(b => "%" + b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        return Pkcs11Uri.Parse(question < 0 ? text + idAttribute : text[..question] + idAttribute + text[question..]);
    }
}

using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Keys;
using EncFs.Crypto;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace EncFs.Keys.Pkcs11;

/// <summary>Slot lookup, login and key lookup shared by the PKCS#11 KEK and its creation.</summary>
internal static class Pkcs11Token
{
    public static ISlot FindSlot(Pkcs11Module module, string token, string? serial)
    {
        var seen = new List<string>();
        foreach (var slot in module.Library.GetSlotList(SlotsType.WithTokenPresent))
        {
            var info = slot.GetTokenInfo();
            var label = info.Label.TrimEnd(' ', '\0');
            seen.Add(label);
            if (label == token && (serial is null || info.SerialNumber.TrimEnd(' ', '\0') == serial))
            {
                if (!info.TokenFlags.TokenInitialized)
                {
                    throw new KeyAccessException($"PKCS#11 token '{token}' is not initialised");
                }

                return slot;
            }
        }

        var list = seen.Count == 0 ? "none" : string.Join(", ", seen.Select(s => $"'{s}'"));
        throw new KeyAccessException($"PKCS#11 token '{token}'{(serial is null ? string.Empty : $" (serial {serial})")} not found in module '{module.Path}' (tokens present: {list})");
    }

    /// <summary>Logs the user in; a wrong PIN is a <see cref="WrongKeyException"/>.</summary>
    public static void Login(ISession session, SecretKey pin, string token)
    {
        var bytes = pin.Span.ToArray();
        try
        {
            session.Login(CKU.CKU_USER, bytes);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
        {
            // Login state is shared by the process's sessions on a token.
        }
        catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_LEN_RANGE)
        {
            throw new WrongKeyException($"wrong PIN for PKCS#11 token '{token}'", e);
        }
        catch (Pkcs11Exception e) when (e.RV == CKR.CKR_PIN_LOCKED)
        {
            throw new KeyAccessException($"the PIN of PKCS#11 token '{token}' is locked (too many wrong PINs); the security officer must reset it", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    public static IObjectHandle? FindKey(ISession session, string label, byte[]? id)
    {
        var factory = session.Factories.ObjectAttributeFactory;
        var template = new List<IObjectAttribute>
        {
            factory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            factory.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
            factory.Create(CKA.CKA_LABEL, Encoding.UTF8.GetBytes(label)),
        };
        if (id is not null)
        {
            template.Add(factory.Create(CKA.CKA_ID, id));
        }

        try
        {
            var found = session.FindAllObjects(template);
            return found.Count switch
            {
                0 => null,
                1 => found[0],
                _ => throw new KeyAccessException($"{found.Count} AES keys are labelled '{label}' in the token; add id=... to the PKCS#11 URI to choose one"),
            };
        }
        finally
        {
            foreach (var attribute in template)
            {
                attribute.Dispose();
            }
        }
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Passphrase;
using EncFs.Keys.Pkcs11;
using EncFs.Keys.Platform;
using EncFs.Keys.Provided;

namespace EncFs.Cli.Infrastructure;

/// <summary>
/// --key-source pkcs11:&lt;uri&gt; for the commands that create a key source (efs init, and any
/// other that adds a scope): validation of the option's value and creation of the KEK.
/// </summary>
internal static class Pkcs11KeySourceOption
{
    public static bool IsPkcs11(string source) => source.StartsWith(Pkcs11Uri.Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>platform, passphrase, provided, pkcs11:&lt;RFC 7512 URI&gt; or azure-kv:&lt;key URL&gt;.</summary>
    public static void ValidateKeySource(OptionResult option)
    {
        var value = option.Tokens.Count > 0 ? option.Tokens[^1].Value : null;
        if (value is null or PlatformKeySource.Type or PassphraseKeySource.Type or ProvidedKeySource.Type)
        {
            return;
        }

        if (KeyVaultKeySourceOption.IsAzureKeyVault(value))
        {
            if (KeyVaultKeySourceOption.Validate(value) is { } keyUrlError)
            {
                option.AddError(keyUrlError);
            }
        }
        else if (!IsPkcs11(value))
        {
            option.AddError($"--key-source '{value}' is none of platform, passphrase, provided, pkcs11:<uri>, azure-kv:https://<vault>/keys/<name>");
        }
        else if (!Pkcs11Uri.TryParse(value, out _, out var error))
        {
            option.AddError($"--key-source: bad PKCS#11 URI: {error}");
        }
    }

    /// <summary>The PIN: --pin-file, else the URI's pin-source or pin-value.</summary>
    public static SecretKey ReadPin(CredentialOptions credentials, ParseResult result, Pkcs11Uri uri)
    {
        var fromOption = credentials.ReadPin(result);
        if (fromOption is not null)
        {
            return fromOption;
        }

        var fromUri = Pkcs11KeySource.ReadPinFromUri(uri)
            ?? throw new UsageException("--key-source pkcs11:... needs the token PIN: --pin-file F ('-' for standard input) or pin-source=file:F in the URI");
        try
        {
            return SecretKey.Copy(fromUri);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(fromUri);
        }
    }

    public static (JsonObject Descriptor, IKeyEncryptionKey Kek, string Detail) Create(CredentialOptions credentials, ParseResult result, string source, out bool generated)
    {
        var uri = Pkcs11Uri.Parse(source);
        if (uri.PinValue is not null)
        {
            Console.Error.WriteLine("efs: warning: pin-value puts the PIN on the command line, where other users may see it; prefer --pin-file. It is not stored in the volume.");
        }

        using var pin = ReadPin(credentials, result, uri);
        var (descriptor, kek) = Pkcs11KeySource.Create(uri, pin.Span, out generated);
        var what = generated ? "generated in" : "found in";
        return (descriptor, kek, $" (key '{kek.KeyId}' {what} the token, version {kek.KeyVersion}; stored: {descriptor["uri"]}; give the PIN with --pin-file at every mount)");
    }

    public static void DestroyGenerated(Pkcs11Kek kek)
    {
        try
        {
            Pkcs11KeySource.DestroyKey(kek);
        }
        catch (KeyAccessException e)
        {
            Console.Error.WriteLine($"efs: warning: the key generated in the token for this failed init is left there: {e.Message}");
        }
    }
}

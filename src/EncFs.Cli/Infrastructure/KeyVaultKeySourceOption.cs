using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Keys.AzureKeyVault;

namespace EncFs.Cli.Infrastructure;

/// <summary>
/// --key-source azure-kv:&lt;key URL&gt; for the commands that create a key source (efs init,
/// scope create, key rotate): validation of the URL and creation of the KEK with
/// DefaultAzureCredential (environment, workload or managed identity, Azure CLI, ...).
/// </summary>
internal static class KeyVaultKeySourceOption
{
    public const string Prefix = AzureKeyVaultKeySource.Type + ":";

    public static bool IsAzureKeyVault(string source) => source.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when the URL after azure-kv: is https://&lt;vault&gt;/keys/&lt;name&gt;[/&lt;version&gt;], else what is wrong.</summary>
    public static string? Validate(string source)
    {
        try
        {
            KeyVaultKeyId.Parse(source[Prefix.Length..]);
            return null;
        }
        catch (KeyAccessException e)
        {
            return $"--key-source: {e.Message}";
        }
    }

    /// <summary>Checks the key at the vault (exists, enabled, can wrap) and returns its descriptor and KEK.</summary>
    public static (JsonObject Descriptor, IKeyEncryptionKey Kek, string Detail) Create(string source)
    {
        var url = source[Prefix.Length..];
        try
        {
            var (descriptor, kek) = AzureKeyVaultKeySource.Create(KeyVaultKeyId.Parse(url).Url, AzureKeyVaultKeySource.DefaultCredential());
            return (descriptor, kek, $" (key version {kek.KeyVersion}; stored: {descriptor["keyUrl"]}, without version; access through DefaultAzureCredential at every mount)");
        }
        catch (KeyAccessException e)
        {
            throw new KeyAccessException($"key source {Prefix}{url}: {e.Message}", e);
        }
    }
}

using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Identity;
using EncFs.Core.Keys;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>
/// The Azure Key Vault key source (a customer-managed key in Key Vault or Managed HSM):
/// <c>azure-kv:https://{vault}/keys/{name}</c>. The volume header keeps the key URL
/// without version; each open takes the key's current version for new wraps, and unwraps
/// with the version recorded in each wrapped key. Disabling, deleting or denying access to
/// the key at the vault revokes the scope.
/// </summary>
public static class AzureKeyVaultKeySource
{
    public const string Type = "azure-kv";

    /// <summary>The production credential: environment, workload identity, managed identity, Azure CLI, ...</summary>
    public static TokenCredential DefaultCredential() => new DefaultAzureCredential();

    /// <summary>
    /// Checks that the key exists, is enabled and can wrap; returns the descriptor to store
    /// (<c>{"type":"azure-kv","keyUrl":...}</c>, without version) and the KEK at the key's
    /// current version (or at the version the URL names).
    /// </summary>
    public static (JsonObject Descriptor, KeyVaultKek Kek) Create(Uri keyUrl, TokenCredential credential, KeyVaultClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(keyUrl);
        ArgumentNullException.ThrowIfNull(credential);
        var id = KeyVaultKeyId.Parse(keyUrl);
        var kek = OpenKey(id, credential, options);
        var descriptor = new JsonObject
        {
            ["type"] = Type,
            ["keyUrl"] = id.VersionlessUrl,
        };
        return (descriptor, kek);
    }

    /// <summary>Opens the scope's KEK from its descriptor: asks the vault for the key's current version.</summary>
    public static KeyVaultKek Open(JsonObject descriptor, TokenCredential credential, KeyVaultClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(credential);
        var type = descriptor["type"]?.GetValue<string>();
        if (type != Type)
        {
            throw new InvalidDataException($"the key source in the volume header is '{type}', not '{Type}'");
        }

        var url = descriptor["keyUrl"]?.GetValue<string>() ?? throw new InvalidDataException("the azure-kv key source in the volume header has no keyUrl");
        KeyVaultKeyId id;
        try
        {
            id = KeyVaultKeyId.Parse(url);
        }
        catch (KeyAccessException e)
        {
            throw new InvalidDataException($"the azure-kv key source in the volume header has a bad keyUrl: {e.Message}", e);
        }

        return OpenKey(id.WithVersion(null), credential, options);
    }

    private static KeyVaultKek OpenKey(KeyVaultKeyId id, TokenCredential credential, KeyVaultClientOptions? options)
    {
        var client = new KeyVaultClient(credential, options);
        var info = client.GetKey(id);
        if (!info.Enabled)
        {
            throw new KeyAccessException($"key {id} is disabled in Key Vault");
        }

        var versioned = KeyVaultKeyId.Parse(info.Kid);
        if (!string.Equals(versioned.VersionlessUrl, id.VersionlessUrl, StringComparison.OrdinalIgnoreCase) || versioned.Version is null)
        {
            throw new KeyAccessException($"Key Vault answered for key {id} with an unexpected kid '{info.Kid}'");
        }

        return new KeyVaultKek(client, versioned, KeyVaultKek.AlgorithmFor(info.KeyType));
    }
}

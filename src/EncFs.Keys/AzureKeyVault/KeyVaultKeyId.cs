using EncFs.Core.Keys;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>A Key Vault (or Managed HSM) key URL: https://{vault}/keys/{name}[/{version}].</summary>
public sealed class KeyVaultKeyId
{
    private KeyVaultKeyId(Uri vault, string name, string? version)
    {
        Vault = vault;
        Name = name;
        Version = version;
    }

    /// <summary>The vault's base URL (scheme, host, port).</summary>
    public Uri Vault { get; }

    public string Name { get; }

    public string? Version { get; }

    /// <summary>The key URL without its version.</summary>
    public string VersionlessUrl => Vault.GetLeftPart(UriPartial.Authority) + "/keys/" + Name;

    /// <summary>The key URL, with its version when it has one.</summary>
    public Uri Url => new(Version is null ? VersionlessUrl : VersionlessUrl + "/" + Version);

    public KeyVaultKeyId WithVersion(string? version) => new(Vault, Name, version);

    public override string ToString() => Url.ToString();

    /// <summary>Parses a key URL; throws <see cref="KeyAccessException"/> saying what is wrong.</summary>
    public static KeyVaultKeyId Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new KeyAccessException($"'{url}' is not a Key Vault key URL (https://<vault>/keys/<name>[/<version>])");
        }

        return Parse(uri);
    }

    public static KeyVaultKeyId Parse(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.Scheme != Uri.UriSchemeHttps)
        {
            throw new KeyAccessException($"Key Vault key URL '{url}' must use https");
        }

        var segments = url.AbsolutePath.Trim('/').Split('/');
        if (segments.Length is < 2 or > 3 || segments[0] != "keys" || segments.Any(s => s.Length == 0) || !string.IsNullOrEmpty(url.Query))
        {
            throw new KeyAccessException($"'{url}' is not a Key Vault key URL (https://<vault>/keys/<name>[/<version>])");
        }

        return new KeyVaultKeyId(new Uri(url.GetLeftPart(UriPartial.Authority)), segments[1], segments.Length == 3 ? segments[2] : null);
    }
}

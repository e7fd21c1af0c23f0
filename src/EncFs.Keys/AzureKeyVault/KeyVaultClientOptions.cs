using Azure.Core;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>
/// Pipeline options of the Key Vault client: retries (429, 408, 5xx, with Retry-After
/// honoured), the network timeout, and a replaceable transport (tests trust a test certificate).
/// </summary>
public sealed class KeyVaultClientOptions : ClientOptions
{
    public KeyVaultClientOptions()
    {
        Retry.Mode = RetryMode.Exponential;
        Retry.MaxRetries = 4;
        Retry.Delay = TimeSpan.FromMilliseconds(500);
        Retry.MaxDelay = TimeSpan.FromSeconds(10);
        Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        Diagnostics.IsLoggingContentEnabled = false;
    }

    /// <summary>
    /// Refuse a bearer challenge whose resource is not a parent domain of the vault's host
    /// (a hostile endpoint could otherwise ask for a token meant elsewhere). On by default.
    /// </summary>
    public bool VerifyChallengeResource { get; set; } = true;
}

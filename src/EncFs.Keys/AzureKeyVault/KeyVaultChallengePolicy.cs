using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Core.Pipeline;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>
/// Key Vault's challenge-based authentication: the first request goes out without a token;
/// the 401 answer's <c>WWW-Authenticate: Bearer authorization="...", resource="..."</c> (or
/// <c>scope="..."</c>) names the token scope and tenant; the token is then asked for
/// <c>&lt;resource&gt;/.default</c> and the request retried once. The scope is remembered
/// and the base policy caches the token until shortly before it expires.
/// </summary>
internal sealed partial class KeyVaultChallengePolicy : BearerTokenAuthenticationPolicy
{
    private const string HeldContent = "EncFs.KeyVault.HeldContent";
    private readonly bool _verifyResource;
    private TokenRequestContext? _context;

    public KeyVaultChallengePolicy(TokenCredential credential, bool verifyResource)
        : base(credential, Array.Empty<string>())
    {
        _verifyResource = verifyResource;
    }

    protected override ValueTask AuthorizeRequestAsync(HttpMessage message)
    {
        AuthorizeRequest(message);
        return default;
    }

    protected override void AuthorizeRequest(HttpMessage message)
    {
        if (_context is { } context)
        {
            AuthenticateAndAuthorizeRequest(message, context);
        }
        else if (message.Request.Content is { } content)
        {
            // No token yet: the first request only fetches the challenge, so it must not carry
            // the body (which may be a key to wrap) to an endpoint not yet authenticated.
            message.SetProperty(HeldContent, content);
            message.Request.Content = null;
        }
    }

    protected override ValueTask<bool> AuthorizeRequestOnChallengeAsync(HttpMessage message) =>
        new(AuthorizeRequestOnChallenge(message));

    protected override bool AuthorizeRequestOnChallenge(HttpMessage message)
    {
        if (!message.Response.Headers.TryGetValue("WWW-Authenticate", out var challenge))
        {
            return false;
        }

        var context = ParseChallenge(challenge, message.Request.Uri.Host ?? string.Empty, _verifyResource);
        if (context is null)
        {
            return false;
        }

        if (message.TryGetProperty(HeldContent, out var held) && held is RequestContent content)
        {
            message.Request.Content = content;
        }

        _context = context;
        AuthenticateAndAuthorizeRequest(message, context.Value);
        return true;
    }

    /// <summary>The token request a Bearer challenge asks for, or null when it is not one.</summary>
    internal static TokenRequestContext? ParseChallenge(string challenge, string vaultHost, bool verifyResource)
    {
        if (!challenge.TrimStart().StartsWith("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (Match m in ChallengeParameter().Matches(challenge))
        {
            parameters[m.Groups[1].Value] = m.Groups[2].Value;
        }

        string scope;
        if (parameters.TryGetValue("scope", out var s) && s.Length > 0)
        {
            scope = s;
        }
        else if (parameters.TryGetValue("resource", out var r) && r.Length > 0)
        {
            scope = r.TrimEnd('/') + "/.default";
        }
        else
        {
            return null;
        }

        if (verifyResource)
        {
            if (!Uri.TryCreate(scope, UriKind.Absolute, out var scopeUri))
            {
                throw new Core.Keys.KeyAccessException($"Key Vault's authentication challenge names an invalid resource '{scope}'");
            }

            var host = scopeUri.Host;
            if (!vaultHost.Equals(host, StringComparison.OrdinalIgnoreCase)
                && !vaultHost.EndsWith("." + host, StringComparison.OrdinalIgnoreCase))
            {
                throw new Core.Keys.KeyAccessException(
                    $"Key Vault's authentication challenge asks for a token for '{host}', which does not match the vault host '{vaultHost}'; refusing");
            }
        }

        string? tenant = null;
        var authority = parameters.GetValueOrDefault("authorization") ?? parameters.GetValueOrDefault("authorization_uri");
        if (authority is not null && Uri.TryCreate(authority, UriKind.Absolute, out var authorityUri))
        {
            var segment = authorityUri.AbsolutePath.Trim('/').Split('/')[0];
            tenant = segment.Length > 0 ? segment : null;
        }

        return new TokenRequestContext([scope], parentRequestId: null, claims: null, tenantId: tenant);
    }

    [GeneratedRegex("""(\w+)\s*=\s*"([^"]*)"?""")]
    private static partial Regex ChallengeParameter();
}

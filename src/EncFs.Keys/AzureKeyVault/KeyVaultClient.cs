using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using EncFs.Core.Keys;

namespace EncFs.Keys.AzureKeyVault;

/// <summary>The parts of a Key Vault key that the key source uses.</summary>
/// <param name="Kid">The versioned key identifier (https://vault/keys/name/version).</param>
/// <param name="KeyType">kty: RSA, RSA-HSM, oct-HSM, ...</param>
public sealed record KeyVaultKeyInfo(string Kid, string KeyType, bool Enabled);

/// <summary>
/// A minimal Key Vault REST client (api-version 7.4) over an Azure.Core pipeline: get key,
/// wrapkey, unwrapkey. Authentication is Key Vault's bearer challenge; retries (429, 5xx,
/// timeouts) follow the options, honouring Retry-After. Every failure becomes a
/// <see cref="KeyAccessException"/> naming the key and why.
/// </summary>
public sealed class KeyVaultClient
{
    public const string ApiVersion = "7.4";

    private readonly HttpPipeline _pipeline;

    public KeyVaultClient(TokenCredential credential, KeyVaultClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(credential);
        options ??= new KeyVaultClientOptions();
        _pipeline = HttpPipelineBuilder.Build(
            options,
            Array.Empty<HttpPipelinePolicy>(),
            [new KeyVaultChallengePolicy(credential, options.VerifyChallengeResource)],
            new ResponseClassifier());
    }

    /// <summary>GET {vault}/keys/{name}[/{version}]: the key's versioned id and type.</summary>
    public KeyVaultKeyInfo GetKey(KeyVaultKeyId key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var json = Send(RequestMethod.Get, key.Url, "get", null, key, cancellationToken);
        var kid = json["key"]?["kid"]?.GetValue<string>() ?? throw new KeyAccessException($"Key Vault's answer for key {key} has no kid");
        var kty = json["key"]?["kty"]?.GetValue<string>() ?? throw new KeyAccessException($"Key Vault's answer for key {key} has no kty");
        var enabled = json["attributes"]?["enabled"]?.GetValue<bool>() ?? true;
        return new KeyVaultKeyInfo(kid, kty, enabled);
    }

    /// <summary>POST {kid}/wrapkey: the key wrapped by the vault key (which must be versioned).</summary>
    public byte[] WrapKey(KeyVaultKeyId key, string algorithm, ReadOnlySpan<byte> plaintextKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return KeyOperation(key, "wrapkey", algorithm, plaintextKey, cancellationToken);
    }

    /// <summary>POST {kid}/unwrapkey: the key that the vault key (which must be versioned) had wrapped.</summary>
    public byte[] UnwrapKey(KeyVaultKeyId key, string algorithm, ReadOnlySpan<byte> wrappedKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return KeyOperation(key, "unwrapkey", algorithm, wrappedKey, cancellationToken);
    }

    private byte[] KeyOperation(KeyVaultKeyId key, string operation, string algorithm, ReadOnlySpan<byte> value, CancellationToken cancellationToken)
    {
        if (key.Version is null)
        {
            throw new ArgumentException("wrapkey and unwrapkey need a versioned key id", nameof(key));
        }

        var body = new JsonObject { ["alg"] = algorithm, ["value"] = System.Buffers.Text.Base64Url.EncodeToString(value) };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body);
        JsonNode json;
        try
        {
            json = Send(RequestMethod.Post, new Uri(key.Url + "/" + operation), operation, bytes, key, cancellationToken);
        }
        finally
        {
            Array.Clear(bytes);
        }

        var text = json["value"]?.GetValue<string>() ?? throw new KeyAccessException($"Key Vault's {operation} answer for key {key} has no value");
        try
        {
            return System.Buffers.Text.Base64Url.DecodeFromChars(text);
        }
        catch (FormatException e)
        {
            throw new KeyAccessException($"Key Vault's {operation} answer for key {key} is not base64url", e);
        }
    }

    private JsonNode Send(RequestMethod method, Uri url, string operation, byte[]? content, KeyVaultKeyId key, CancellationToken cancellationToken)
    {
        using var message = _pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        var builder = new UriBuilder(url) { Query = "api-version=" + ApiVersion };
        request.Uri.Reset(builder.Uri);
        request.Headers.Add("Accept", "application/json");
        if (content is not null)
        {
            request.Headers.Add("Content-Type", "application/json");
            request.Content = RequestContent.Create(content);
        }

        try
        {
            _pipeline.Send(message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (KeyAccessException)
        {
            throw;
        }
        catch (Azure.Identity.AuthenticationFailedException e)
        {
            throw new KeyUnavailableException($"no Azure credential for Key Vault key {key} ({operation}): {e.Message}", e);
        }
        catch (Exception e) when (e is RequestFailedException or AggregateException or OperationCanceledException or HttpRequestException or IOException)
        {
            throw new KeyUnavailableException($"Key Vault unreachable for key {key} ({operation}): {Innermost(e).Message}", e);
        }

        var response = message.Response;
        if (response.Status is >= 200 and < 300)
        {
            try
            {
                return JsonNode.Parse(response.Content.ToMemory().Span) ?? throw new KeyAccessException($"Key Vault's {operation} answer for key {key} is empty");
            }
            catch (JsonException e)
            {
                throw new KeyAccessException($"Key Vault's {operation} answer for key {key} is not JSON", e);
            }
        }

        throw Failure(response, operation, key);
    }

    internal static KeyAccessException Failure(Response response, string operation, KeyVaultKeyId key)
    {
        var (code, text) = ErrorOf(response);
        var detail = code is null ? $"HTTP {response.Status}" : $"HTTP {response.Status} {code}: {text}";
        var disabled = string.Equals(code, "KeyDisabled", StringComparison.OrdinalIgnoreCase)
            || (text is not null && text.Contains("disabled", StringComparison.OrdinalIgnoreCase))
            || (response.Status is 400 or 403 && text is not null && text.StartsWith("Operation ", StringComparison.Ordinal) && text.Contains("not allowed", StringComparison.Ordinal));
        if (disabled)
        {
            return new KeyAccessException($"key {key} is disabled in Key Vault ({operation} refused: {detail})");
        }

        return response.Status switch
        {
            401 or 403 => new KeyAccessException($"access denied by Key Vault for key {key} ({operation}: {detail})"),
            404 => new KeyAccessException($"key {key} not found (deleted?) in Key Vault ({operation}: {detail})"),
            400 when operation == "unwrapkey" => new WrongKeyException($"Key Vault could not unwrap with key {key}: the wrapped key was not made by it ({detail})"),
            408 or 429 or >= 500 => new KeyUnavailableException($"Key Vault unreachable for key {key} ({operation}: {detail}, after retries)"),
            _ => new KeyAccessException($"Key Vault refused {operation} for key {key} ({detail})"),
        };
    }

    private static (string? Code, string? Message) ErrorOf(Response response)
    {
        try
        {
            var json = JsonNode.Parse(response.Content.ToMemory().Span);
            var error = json?["error"];
            return (error?["code"]?.GetValue<string>(), error?["message"]?.GetValue<string>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return (null, null);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (true)
        {
            if (e is AggregateException { InnerExceptions.Count: > 0 } a)
            {
                e = a.InnerExceptions[^1];
            }
            else if (e.InnerException is { } inner)
            {
                e = inner;
            }
            else
            {
                return e;
            }
        }
    }
}

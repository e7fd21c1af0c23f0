using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using EncFs.Keys.AzureKeyVault;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EncFs.Keys.Tests.AzureKeyVault;

/// <summary>One request as the fake vault saw it.</summary>
public sealed record LoggedRequest(string Method, string Path, string Query, string Headers, string Body);

/// <summary>
/// A Key Vault REST server (api-version 7.4: get key, wrapkey, unwrapkey) over HTTPS on
/// 127.0.0.1 with a certificate made at test time. It answers unauthenticated requests with
/// the bearer challenge, keeps RSA-2048 keys with versions and does real RSA-OAEP-256, and
/// can be told to fail the next N calls with a given status.
/// </summary>
public sealed class FakeKeyVault : IAsyncDisposable
{
    public const string Resource = "https://vault.azure.net";
    public const string Tenant = "00000000-0000-0000-0000-00000000beef";

    private readonly WebApplication _app;
    private readonly X509Certificate2 _certificate;
    private readonly ConcurrentQueue<(int Status, string? Code, string? Message, string? RetryAfter)> _failures = new();
    private readonly Dictionary<string, FakeKey> _keys = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _version;

    public FakeKeyVault()
    {
        _certificate = MakeCertificate();
        Port = FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port, l => l.UseHttps(_certificate)));
        _app = builder.Build();
        _app.Run(HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
    }

    public int Port { get; }

    public string BaseUrl => $"https://127.0.0.1:{Port}";

    /// <summary>
    /// The resource the bearer challenge names (default the public cloud's). A client that checks
    /// it against the vault host needs one the host is under, e.g. https://127.0.0.1 here.
    /// </summary>
    public string ChallengeResource { get; set; } = Resource;

    /// <summary>The secret header the fake's managed identity endpoint accepts (IDENTITY_HEADER).</summary>
    public string IdentityHeader { get; set; } = "test-identity-header";

    /// <summary>
    /// A managed identity token endpoint as App Service serves it (IDENTITY_ENDPOINT): what
    /// DefaultAzureCredential in another process can get a token from without Entra ID.
    /// </summary>
    public string IdentityEndpoint => $"{BaseUrl}/msi/token";

    /// <summary>Token requests the fake's managed identity endpoint answered (their query strings).</summary>
    public ConcurrentQueue<string> TokenRequests { get; } = new();

    /// <summary>The server certificate as PEM, for a process that must trust it (SSL_CERT_FILE).</summary>
    public string CertificatePem => _certificate.ExportCertificatePem();

    /// <summary>What the token the fake accepts looks like (the test credential issues it).</summary>
    public string AcceptedToken { get; set; } = "test-token";

    public ConcurrentQueue<LoggedRequest> Requests { get; } = new();

    public int Challenges;

    public int KeyOperations;

    public string KeyUrl(string name) => $"{BaseUrl}/keys/{name}";

    /// <summary>Adds an RSA-2048 key (or a new version of it); returns the version.</summary>
    public string AddVersion(string name)
    {
        lock (_lock)
        {
            if (!_keys.TryGetValue(name, out var key))
            {
                key = new FakeKey();
                _keys[name] = key;
            }

            var version = $"v{++_version:D2}{Guid.NewGuid():N}";
            key.Versions[version] = RSA.Create(2048);
            key.Current = version;
            return version;
        }
    }

    public void SetEnabled(string name, bool enabled)
    {
        lock (_lock)
        {
            _keys[name].Enabled = enabled;
        }
    }

    public void Delete(string name)
    {
        lock (_lock)
        {
            _keys.Remove(name);
        }
    }

    /// <summary>The next <paramref name="count"/> authenticated calls answer <paramref name="status"/>.</summary>
    public void FailNext(int status, int count, string? code = null, string? message = null, string? retryAfter = null)
    {
        for (var i = 0; i < count; i++)
        {
            _failures.Enqueue((status, code, message, retryAfter ?? (status == 429 ? "0" : null)));
        }
    }

    /// <summary>How long each key request waits before it is answered (a vault that hangs).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Answers normally again: failures still queued by <see cref="FailNext"/> are dropped.</summary>
    public void ClearFailures() => _failures.Clear();

    /// <summary>Options whose transport trusts exactly this server's certificate, with quick retries.</summary>
    public KeyVaultClientOptions ClientOptions(bool verifyChallengeResource = false)
    {
        var expected = _certificate.GetCertHash();
#pragma warning disable CA2000 // the transport owns the handler for the test's lifetime
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHash().AsSpan().SequenceEqual(expected),
        };
#pragma warning restore CA2000
        var options = new KeyVaultClientOptions
        {
            Transport = new HttpClientTransport(handler),
            VerifyChallengeResource = verifyChallengeResource,
        };
        options.Retry.Delay = TimeSpan.FromMilliseconds(5);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(20);
        options.Retry.MaxRetries = 3;
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        return options;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _certificate.Dispose();
        foreach (var key in _keys.Values)
        {
            foreach (var rsa in key.Versions.Values)
            {
                rsa.Dispose();
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body))
        {
            body = await reader.ReadToEndAsync().ConfigureAwait(false);
        }

        var headers = string.Join("\n", request.Headers.Select(h => $"{h.Key}: {h.Value}"));
        Requests.Enqueue(new LoggedRequest(request.Method, request.Path.Value ?? string.Empty, request.QueryString.Value ?? string.Empty, headers, body));

        if (request.Method == "GET" && request.Path.Value == "/msi/token")
        {
            await IssueTokenAsync(context).ConfigureAwait(false);
            return;
        }

        var authorization = request.Headers.Authorization.ToString();
        if (authorization != "Bearer " + AcceptedToken)
        {
            Interlocked.Increment(ref Challenges);
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = $"Bearer authorization=\"https://login.example.test/{Tenant}\", resource=\"{ChallengeResource}\"";
            await WriteError(context, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.").ConfigureAwait(false);
            return;
        }

        if (request.Query["api-version"] != KeyVaultClient.ApiVersion)
        {
            await WriteError(context, 400, "BadParameter", "The specified version is not supported").ConfigureAwait(false);
            return;
        }

        if (Delay > TimeSpan.Zero && context.Request.Path.StartsWithSegments("/keys", StringComparison.Ordinal))
        {
            await Task.Delay(Delay).ConfigureAwait(false);
        }

        if (_failures.TryDequeue(out var failure))
        {
            if (failure.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = failure.RetryAfter;
            }

            await WriteError(context, failure.Status, failure.Code ?? "Injected", failure.Message ?? $"injected {failure.Status}").ConfigureAwait(false);
            return;
        }

        var segments = (request.Path.Value ?? string.Empty).Trim('/').Split('/');
        if (segments.Length < 2 || segments[0] != "keys")
        {
            await WriteError(context, 404, "NotFound", "no such route").ConfigureAwait(false);
            return;
        }

        var name = segments[1];
        FakeKey? key;
        lock (_lock)
        {
            _keys.TryGetValue(name, out key);
        }

        if (key is null)
        {
            await WriteError(context, 404, "KeyNotFound", $"A key with (name/id) {name} was not found in this key vault.").ConfigureAwait(false);
            return;
        }

        var version = segments.Length >= 3 ? segments[2] : key.Current;
        if (!key.Versions.TryGetValue(version, out var rsa))
        {
            await WriteError(context, 404, "KeyNotFound", $"A key with (name/id) {name}/{version} was not found in this key vault.").ConfigureAwait(false);
            return;
        }

        var kid = $"{BaseUrl}/keys/{name}/{version}";
        if (request.Method == "GET" && segments.Length <= 3)
        {
            var parameters = rsa.ExportParameters(false);
            await Write(context, 200, new JsonObject
            {
                ["key"] = new JsonObject
                {
                    ["kid"] = kid,
                    ["kty"] = "RSA",
                    ["key_ops"] = new JsonArray("wrapKey", "unwrapKey"),
                    ["n"] = System.Buffers.Text.Base64Url.EncodeToString(parameters.Modulus),
                    ["e"] = System.Buffers.Text.Base64Url.EncodeToString(parameters.Exponent),
                },
                ["attributes"] = new JsonObject { ["enabled"] = key.Enabled },
            }).ConfigureAwait(false);
            return;
        }

        if (request.Method != "POST" || segments.Length != 4 || segments[3] is not ("wrapkey" or "unwrapkey"))
        {
            await WriteError(context, 405, "MethodNotAllowed", "not supported by the fake").ConfigureAwait(false);
            return;
        }

        Interlocked.Increment(ref KeyOperations);
        if (!key.Enabled)
        {
            await WriteError(context, 403, "Forbidden", $"Operation {segments[3]} is not allowed on a disabled key.").ConfigureAwait(false);
            return;
        }

        var json = JsonNode.Parse(body);
        if (json?["alg"]?.GetValue<string>() != "RSA-OAEP-256")
        {
            await WriteError(context, 400, "BadParameter", "Invalid algorithm").ConfigureAwait(false);
            return;
        }

        var value = System.Buffers.Text.Base64Url.DecodeFromChars(json["value"]!.GetValue<string>());
        byte[] result;
        try
        {
            result = segments[3] == "wrapkey"
                ? rsa.Encrypt(value, RSAEncryptionPadding.OaepSHA256)
                : rsa.Decrypt(value, RSAEncryptionPadding.OaepSHA256);
        }
        catch (CryptographicException)
        {
            await WriteError(context, 400, "BadParameter", "The parameter is incorrect.").ConfigureAwait(false);
            return;
        }

        await Write(context, 200, new JsonObject { ["kid"] = kid, ["value"] = System.Buffers.Text.Base64Url.EncodeToString(result) }).ConfigureAwait(false);
    }

    /// <summary>
    /// App Service's managed identity endpoint (api-version 2019-08-01): GET with
    /// ?resource=... and the X-IDENTITY-HEADER secret; answers the token with expires_on.
    /// </summary>
    private async Task IssueTokenAsync(HttpContext context)
    {
        var request = context.Request;
        TokenRequests.Enqueue(request.QueryString.Value ?? string.Empty);
        if (request.Headers["X-IDENTITY-HEADER"] != IdentityHeader)
        {
            await Write(context, 401, new JsonObject { ["error"] = "invalid_request", ["error_description"] = "bad X-IDENTITY-HEADER" }).ConfigureAwait(false);
            return;
        }

        await Write(context, 200, new JsonObject
        {
            ["access_token"] = AcceptedToken,
            ["expires_on"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["resource"] = request.Query["resource"].ToString(),
            ["token_type"] = "Bearer",
        }).ConfigureAwait(false);
    }

    private static Task WriteError(HttpContext context, int status, string code, string message) =>
        Write(context, status, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } });

    private static async Task Write(HttpContext context, int status, JsonObject json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(json.ToJsonString()).ConfigureAwait(false);
    }

    private static X509Certificate2 MakeCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private sealed class FakeKey
    {
        public Dictionary<string, RSA> Versions { get; } = new(StringComparer.Ordinal);

        public string Current { get; set; } = string.Empty;

        public bool Enabled { get; set; } = true;
    }
}

/// <summary>A credential that issues the fake vault's token and records what it was asked for.</summary>
public sealed class CountingCredential(string token) : TokenCredential
{
    private int _calls;

    public int Calls => _calls;

    public ConcurrentQueue<TokenRequestContext> Requests { get; } = new();

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        Requests.Enqueue(requestContext);
        return new AccessToken(token, DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        new(GetToken(requestContext, cancellationToken));
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Keys.AzureKeyVault;

namespace EncFs.Keys.Tests.AzureKeyVault;

/// <summary>The azure-kv key source against a fake Key Vault over HTTPS.</summary>
public sealed class KeyVaultKeySourceTests : IAsyncLifetime
{
    private static readonly byte[] Aad = Encoding.ASCII.GetBytes("volume/scope/1");

    private readonly FakeKeyVault _vault = new();
    private readonly CountingCredential _credential;

    public KeyVaultKeySourceTests()
    {
        _credential = new CountingCredential(_vault.AcceptedToken);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _vault.DisposeAsync();

    private (JsonObject Descriptor, KeyVaultKek Kek) CreateKey(string name)
    {
        _vault.AddVersion(name);
        return AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl(name)), _credential, _vault.ClientOptions());
    }

    [Fact]
    public void RoundTripsAndDescribesTheKey()
    {
        var version = _vault.AddVersion("kek");
        var (descriptor, kek) = AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl("kek")), _credential, _vault.ClientOptions());
        using (kek)
        {
            Assert.Equal("azure-kv", descriptor["type"]!.GetValue<string>());
            Assert.Equal(_vault.KeyUrl("kek"), descriptor["keyUrl"]!.GetValue<string>());
            Assert.Equal(_vault.KeyUrl("kek"), kek.KeyId);
            Assert.Equal(version, kek.KeyVersion);
            Assert.Equal("RSA-OAEP-256", kek.Algorithm);

            var dek = RandomNumberGenerator.GetBytes(32);
            var wrapped = kek.Wrap(dek, Aad);
            Assert.Equal(-1, wrapped.AsSpan().IndexOf(dek));
            using var unwrapped = kek.Unwrap(wrapped, Aad);
            Assert.Equal(dek, unwrapped.Span.ToArray());
        }

        using var reopened = AzureKeyVaultKeySource.Open(descriptor, _credential, _vault.ClientOptions());
        Assert.Equal(version, reopened.KeyVersion);
    }

    [Fact]
    public void HonoursTheChallengeAndReusesTheToken()
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            var dek = RandomNumberGenerator.GetBytes(32);
            for (var i = 0; i < 3; i++)
            {
                using var unwrapped = kek.Unwrap(kek.Wrap(dek, Aad), Aad);
            }
        }

        Assert.Equal(1, _vault.Challenges);
        Assert.Equal(1, _credential.Calls);
        Assert.True(_credential.Requests.TryPeek(out var context));
        Assert.Equal(["https://vault.azure.net/.default"], context.Scopes);
        Assert.Equal(FakeKeyVault.Tenant, context.TenantId);
        // 1 challenged GET + its retry + 3 wraps + 3 unwraps.
        Assert.Equal(8, _vault.Requests.Count);
    }

    [Fact]
    public void AKeyIsNeverSentBeforeTheChallengeIsAnswered()
    {
        var version = _vault.AddVersion("kek");
        var client = new KeyVaultClient(_credential, _vault.ClientOptions());
        using var kek = new KeyVaultKek(client, KeyVaultKeyId.Parse($"{_vault.KeyUrl("kek")}/{version}"), "RSA-OAEP-256");
        var dek = RandomNumberGenerator.GetBytes(32);
        using (var unwrapped = kek.Unwrap(kek.Wrap(dek, Aad), Aad))
        {
            Assert.Equal(dek, unwrapped.Span.ToArray());
        }

        var requests = _vault.Requests.ToArray();
        Assert.Equal(3, requests.Length); // challenged wrap, its retry, unwrap
        Assert.Equal("", requests[0].Body); // the challenged request went without the key
        Assert.DoesNotContain("Authorization", requests[0].Headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(System.Buffers.Text.Base64Url.EncodeToString(dek), requests[1].Body, StringComparison.Ordinal);
        Assert.Equal(1, _vault.Challenges);
    }

    [Fact]
    public void ChallengeForAnotherResourceIsRefusedWhenVerified()
    {
        _vault.AddVersion("kek");
        var e = Assert.ThrowsAny<KeyAccessException>(() =>
            AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl("kek")), _credential, _vault.ClientOptions(verifyChallengeResource: true)));
        Assert.Contains("vault.azure.net", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _credential.Calls);
    }

    [Fact]
    public void UnwrapsWithTheStoredVersionAfterRotation()
    {
        var v1 = _vault.AddVersion("kek");
        var (descriptor, kek1) = AzureKeyVaultKeySource.Create(new Uri(_vault.KeyUrl("kek")), _credential, _vault.ClientOptions());
        var dek = RandomNumberGenerator.GetBytes(32);
        byte[] wrapped;
        using (kek1)
        {
            wrapped = kek1.Wrap(dek, Aad);
        }

        var v2 = _vault.AddVersion("kek");
        Assert.NotEqual(v1, v2);
        using var kek2 = AzureKeyVaultKeySource.Open(descriptor, _credential, _vault.ClientOptions());
        Assert.Equal(v2, kek2.KeyVersion);
        Assert.Equal(kek2.KeyId, _vault.KeyUrl("kek"));
        using (var unwrapped = kek2.Unwrap(wrapped, Aad))
        {
            Assert.Equal(dek, unwrapped.Span.ToArray());
        }

        Assert.Contains(_vault.Requests, r => r.Path == $"/keys/kek/{v1}/unwrapkey");

        // Re-wrapping under the new version (rotation) still round-trips.
        var rewrapped = kek2.Wrap(dek, Aad);
        Assert.Contains(_vault.Requests, r => r.Path == $"/keys/kek/{v2}/wrapkey");
        using var again = kek2.Unwrap(rewrapped, Aad);
        Assert.Equal(dek, again.Span.ToArray());
    }

    [Fact]
    public void WrongAssociatedDataIsAWrongKey()
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            var wrapped = kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad);
            Assert.Throws<WrongKeyException>(() => kek.Unwrap(wrapped, Encoding.ASCII.GetBytes("volume/scope/2")));

            // A tampered vault-wrapped value: the vault refuses to unwrap it.
            var tampered = (byte[])wrapped.Clone();
            tampered[^40] ^= 1;
            Assert.Throws<WrongKeyException>(() => kek.Unwrap(tampered, Aad));
        }
    }

    [Fact]
    public void KeyWrappedByAnotherVaultKeyIsAWrongKey()
    {
        var (_, a) = CreateKey("a");
        var (_, b) = CreateKey("b");
        using (a)
        using (b)
        {
            var wrapped = a.Wrap(RandomNumberGenerator.GetBytes(32), Aad);
            var e = Assert.Throws<WrongKeyException>(() => b.Unwrap(wrapped, Aad));
            Assert.Contains("/keys/a/", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DeniedAccessIsAClearError()
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            _vault.FailNext(403, 1, "Forbidden", "The user, group or application does not have keys wrapKey permission.");
            var e = Assert.Throws<KeyAccessException>(() => kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad));
            Assert.StartsWith($"access denied by Key Vault for key {_vault.KeyUrl("kek")}/", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DeletedKeyIsAClearError()
    {
        var (descriptor, kek) = CreateKey("kek");
        using (kek)
        {
            var wrapped = kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad);
            _vault.Delete("kek");
            var e = Assert.Throws<KeyAccessException>(() => kek.Unwrap(wrapped, Aad));
            Assert.IsNotType<WrongKeyException>(e);
            Assert.Contains("not found (deleted?)", e.Message, StringComparison.Ordinal);
            Assert.Contains(_vault.KeyUrl("kek"), e.Message, StringComparison.Ordinal);
        }

        var open = Assert.Throws<KeyAccessException>(() => AzureKeyVaultKeySource.Open(descriptor, _credential, _vault.ClientOptions()));
        Assert.Contains("not found (deleted?)", open.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DisabledKeyIsAClearError()
    {
        var (descriptor, kek) = CreateKey("kek");
        using (kek)
        {
            var wrapped = kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad);
            _vault.SetEnabled("kek", false);
            var e = Assert.Throws<KeyAccessException>(() => kek.Unwrap(wrapped, Aad));
            Assert.Contains("is disabled in Key Vault", e.Message, StringComparison.Ordinal);
            Assert.Contains(_vault.KeyUrl("kek"), e.Message, StringComparison.Ordinal);

            // The 400 "Operation ... not allowed" form of the same answer.
            _vault.SetEnabled("kek", true);
            _vault.FailNext(400, 1, "BadParameter", "Operation unwrapKey is not allowed on a disabled key.");
            var e400 = Assert.Throws<KeyAccessException>(() => kek.Unwrap(wrapped, Aad));
            Assert.IsNotType<WrongKeyException>(e400);
            Assert.Contains("is disabled in Key Vault", e400.Message, StringComparison.Ordinal);
        }

        _vault.SetEnabled("kek", false);
        var open = Assert.Throws<KeyAccessException>(() => AzureKeyVaultKeySource.Open(descriptor, _credential, _vault.ClientOptions()));
        Assert.Contains("is disabled in Key Vault", open.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    [InlineData(500)]
    public void TransientFailuresAreRetried(int status)
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            var dek = RandomNumberGenerator.GetBytes(32);
            _vault.FailNext(status, 2);
            var wrapped = kek.Wrap(dek, Aad);
            _vault.FailNext(status, 2);
            using var unwrapped = kek.Unwrap(wrapped, Aad);
            Assert.Equal(dek, unwrapped.Span.ToArray());
        }

        Assert.Equal(1, _credential.Calls);
    }

    [Fact]
    public void RetryAfterIsHonoured()
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            _vault.FailNext(429, 1, retryAfter: "1");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad);
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}, not after Retry-After: 1");
        }
    }

    [Fact]
    public void PersistentFailureIsUnreachable()
    {
        var (_, kek) = CreateKey("kek");
        using (kek)
        {
            var before = _vault.Requests.Count;
            _vault.FailNext(503, 100);
            var e = Assert.Throws<KeyUnavailableException>(() => kek.Wrap(RandomNumberGenerator.GetBytes(32), Aad));
            Assert.StartsWith("Key Vault unreachable", e.Message, StringComparison.Ordinal);
            Assert.Equal(4, _vault.Requests.Count - before); // one try and three retries
        }
    }

    [Fact]
    public void NoServerIsUnreachable()
    {
        _vault.AddVersion("kek");
        var options = _vault.ClientOptions();
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        var e = Assert.Throws<KeyUnavailableException>(() =>
            AzureKeyVaultKeySource.Create(new Uri($"https://127.0.0.1:{port}/keys/kek"), _credential, options));
        Assert.StartsWith("Key Vault unreachable", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyTheWrapRequestCarriesTheKeyAndNothingElseLeaks()
    {
        var (_, kek) = CreateKey("kek");
        var dek = RandomNumberGenerator.GetBytes(32);
        byte[] wrapped;
        using (kek)
        {
            wrapped = kek.Wrap(dek, Aad);
            using var unwrapped = kek.Unwrap(wrapped, Aad);
        }

        string[] forms = [System.Buffers.Text.Base64Url.EncodeToString(dek), Convert.ToBase64String(dek), Convert.ToHexString(dek), Convert.ToHexStringLower(dek)];
        foreach (var request in _vault.Requests)
        {
            var isWrap = request.Path.EndsWith("/wrapkey", StringComparison.Ordinal);
            foreach (var form in forms)
            {
                Assert.DoesNotContain(form, request.Path + request.Query + request.Headers, StringComparison.Ordinal);
                if (!isWrap)
                {
                    Assert.DoesNotContain(form, request.Body, StringComparison.Ordinal);
                }
            }

            if (request.Body.Length > 0)
            {
                var json = JsonNode.Parse(request.Body)!.AsObject();
                Assert.Equal(["alg", "value"], json.Select(p => p.Key).Order(StringComparer.Ordinal));
            }

            if (request.Path.EndsWith("/unwrapkey", StringComparison.Ordinal))
            {
                // The unwrap request carries the vault-wrapped value only (found inside the stored form).
                var value = System.Buffers.Text.Base64Url.DecodeFromChars(JsonNode.Parse(request.Body)!["value"]!.GetValue<string>());
                Assert.True(wrapped.AsSpan().IndexOf(value) > 0);
            }
        }

        Assert.Single(_vault.Requests, r => r.Path.EndsWith("/wrapkey", StringComparison.Ordinal));
    }
}

using System.Collections.Concurrent;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Azure.Core;
using EncFs.Crypto;
using EncFs.Keys.AzureKeyVault;
using EncFs.Keys.Local;
using EncFs.Keys.Passphrase;
using EncFs.Keys.Pkcs11;
using EncFs.Keys.Platform;
using EncFs.Keys.Provided;

namespace EncFs.Keys;

/// <summary>
/// Resolves each scope's KEK from the credentials given at open (a passphrase, a provided key).
/// A derived KEK is cached per key source descriptor, so one Argon2id run serves every scope
/// and header copy that shares it.
/// </summary>
public sealed class CredentialKeySource : IKeySource, IDisposable
{
    private readonly Lazy<SecretKey?> _passphrase;
    private readonly SecretKey? _providedKey;
    private readonly ConcurrentDictionary<string, LocalKek> _cache = new(StringComparer.Ordinal);

    private readonly string? _keystore;

    public CredentialKeySource(SecretKey? passphrase = null, SecretKey? providedKey = null, string? keystore = null)
        : this(() => passphrase, providedKey, keystore)
    {
    }

    /// <summary>The passphrase is asked for only when a passphrase scope needs it.</summary>
    public CredentialKeySource(Func<SecretKey?> passphrase, SecretKey? providedKey, string? keystore)
    {
        _passphrase = new Lazy<SecretKey?>(passphrase);
        _providedKey = providedKey;
        _keystore = keystore;
    }

    /// <summary>The PIN of PKCS#11 tokens (--pin-file), asked for only when a pkcs11 scope needs it.</summary>
    public Func<SecretKey?>? Pkcs11Pin
    {
        get => _pkcs11PinSource;
        init
        {
            _pkcs11PinSource = value;
            _pkcs11Pin = new Lazy<SecretKey?>(() => value?.Invoke());
        }
    }

    private readonly Func<SecretKey?>? _pkcs11PinSource;
    private Lazy<SecretKey?> _pkcs11Pin = new(() => null);
    private readonly ConcurrentDictionary<string, KeyAccessException> _pkcs11Failures = new(StringComparer.Ordinal);

    public IKeyEncryptionKey GetKek(ScopeRecord scope)
    {
        var descriptor = scope.KeySource.ToJsonString();
        if (scope.KeySourceType == Pkcs11KeySource.Type)
        {
            return OpenPkcs11(scope, descriptor);
        }

        if (scope.KeySourceType == AzureKeyVaultKeySource.Type)
        {
            return OpenAzureKeyVault(scope);
        }

        if (_cache.TryGetValue(descriptor, out var cached))
        {
            return cached.Clone();
        }

        LocalKek kek = scope.KeySourceType switch
        {
            PassphraseKeySource.Type => PassphraseKeySource.Derive(scope.KeySource, Require(_passphrase.Value, scope, "a passphrase (--passphrase-file)")),
            ProvidedKeySource.Type => ResolveProvided(scope),
            PlatformKeySource.Type => PlatformKeySource.Open(scope.KeySource, _keystore),
            var other => throw new KeyAccessException($"scope '{scope.Name}' uses key source '{other}', which this efs cannot open"),
        };
        var kept = _cache.GetOrAdd(descriptor, kek);
        if (!ReferenceEquals(kept, kek))
        {
            kek.Dispose();
        }

        return kept.Clone();
    }

    /// <summary>A passphrase or a provided key is in the user's hands: nothing at a source can revoke it.</summary>
    public bool IsRevocable(ScopeRecord scope) => scope.KeySourceType is not (PassphraseKeySource.Type or ProvidedKeySource.Type);

    /// <summary>Drops the cached platform KEK of the scope, so a key deleted from the keystore is noticed.</summary>
    public void Forget(ScopeRecord scope)
    {
        if (scope.KeySourceType == PlatformKeySource.Type && _cache.TryRemove(scope.KeySource.ToJsonString(), out var kek))
        {
            kek.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var kek in _cache.Values)
        {
            kek.Dispose();
        }

        _cache.Clear();
        if (_passphrase.IsValueCreated)
        {
            _passphrase.Value?.Dispose();
        }
        _providedKey?.Dispose();
        foreach (var other in OtherProvidedKeys)
        {
            other.Dispose();
        }

        if (_pkcs11Pin.IsValueCreated)
        {
            _pkcs11Pin.Value?.Dispose();
        }
    }

    /// <summary>
    /// A PKCS#11 KEK stays in its token: each call opens it afresh (the probe notices a revoked
    /// key). A wrong PIN is remembered, so the header's second copy does not try it again and
    /// bring the token nearer to locking its PIN.
    /// </summary>
    private Pkcs11Kek OpenPkcs11(ScopeRecord scope, string descriptor)
    {
        if (_pkcs11Failures.TryGetValue(descriptor, out var failed))
        {
            throw failed;
        }

        var uri = scope.KeySource["uri"]?.GetValue<string>() ?? "(no uri)";
        var pin = _pkcs11Pin.Value ?? throw new KeyAccessException($"scope '{scope.Name}' (key source {uri}) needs the token PIN (--pin-file)");
        try
        {
            return Pkcs11KeySource.Open(scope.KeySource, pin.Span);
        }
        catch (WrongKeyException e)
        {
            var wrong = new WrongKeyException($"scope '{scope.Name}' (key source {uri}): {e.Message}", e);
            _pkcs11Failures.TryAdd(descriptor, wrong);
            throw wrong;
        }
        catch (KeyAccessException e)
        {
            throw new KeyAccessException($"scope '{scope.Name}' (key source {uri}): {e.Message}", e);
        }
    }

    /// <summary>
    /// The credential for azure-kv scopes; default <see cref="Azure.Identity.DefaultAzureCredential"/>
    /// (environment, workload or managed identity, Azure CLI, ...), made when a scope needs it.
    /// </summary>
    public TokenCredential? AzureCredential { get; init; }

    /// <summary>Pipeline options for azure-kv scopes (retries, timeout, transport); default ones when null.</summary>
    public KeyVaultClientOptions? AzureKeyVaultOptions { get; init; }

    private TokenCredential? _defaultAzureCredential;

    /// <summary>A Key Vault KEK stays in its vault: each call asks the vault for the key's current version.</summary>
    private KeyVaultKek OpenAzureKeyVault(ScopeRecord scope)
    {
        var url = scope.KeySource["keyUrl"]?.GetValue<string>() ?? "(no keyUrl)";
        var credential = AzureCredential
            ?? LazyInitializer.EnsureInitialized(ref _defaultAzureCredential, AzureKeyVaultKeySource.DefaultCredential);
        try
        {
            return AzureKeyVaultKeySource.Open(scope.KeySource, credential, AzureKeyVaultOptions);
        }
        catch (WrongKeyException e)
        {
            throw new WrongKeyException($"scope '{scope.Name}' (key source azure-kv:{url}): {e.Message}", e);
        }
        catch (KeyUnavailableException e)
        {
            throw new KeyUnavailableException($"scope '{scope.Name}' (key source azure-kv:{url}): {e.Message}", e);
        }
        catch (KeyAccessException e)
        {
            throw new KeyAccessException($"scope '{scope.Name}' (key source azure-kv:{url}): {e.Message}", e);
        }
    }

    /// <summary>Further provided keys, for scopes whose provided key is not the first one (each is matched by its SHA-256).</summary>
    public IReadOnlyList<SecretKey> OtherProvidedKeys { get; init; } = [];

    private LocalKek ResolveProvided(ScopeRecord scope)
    {
        var first = Require(_providedKey, scope, "a key (--key-file)");
        foreach (var other in OtherProvidedKeys)
        {
            if (ProvidedKeySource.Matches(scope.KeySource, other.Span))
            {
                return ProvidedKeySource.Resolve(scope.KeySource, other.Span);
            }
        }

        return ProvidedKeySource.Resolve(scope.KeySource, first);
    }

    private static ReadOnlySpan<byte> Require(SecretKey? secret, ScopeRecord scope, string what) =>
        secret is null
            ? throw new KeyAccessException($"scope '{scope.Name}' needs {what}")
            : secret.Span;
}

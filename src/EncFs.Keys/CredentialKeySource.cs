using System.Collections.Concurrent;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Local;
using EncFs.Keys.Passphrase;
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

    public IKeyEncryptionKey GetKek(ScopeRecord scope)
    {
        var descriptor = scope.KeySource.ToJsonString();
        if (_cache.TryGetValue(descriptor, out var cached))
        {
            return cached.Clone();
        }

        LocalKek kek = scope.KeySourceType switch
        {
            PassphraseKeySource.Type => PassphraseKeySource.Derive(scope.KeySource, Require(_passphrase.Value, scope, "a passphrase (--passphrase-file)")),
            ProvidedKeySource.Type => ProvidedKeySource.Resolve(scope.KeySource, Require(_providedKey, scope, "a key (--key-file)")),
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
    }

    private static ReadOnlySpan<byte> Require(SecretKey? secret, ScopeRecord scope, string what) =>
        secret is null
            ? throw new KeyAccessException($"scope '{scope.Name}' needs {what}")
            : secret.Span;
}

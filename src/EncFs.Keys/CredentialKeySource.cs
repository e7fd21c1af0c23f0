using System.Collections.Concurrent;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Local;
using EncFs.Keys.Passphrase;
using EncFs.Keys.Provided;

namespace EncFs.Keys;

/// <summary>
/// Resolves each scope's KEK from the credentials given at open (a passphrase, a provided key).
/// A derived KEK is cached per key source descriptor, so one Argon2id run serves every scope
/// and header copy that shares it.
/// </summary>
public sealed class CredentialKeySource : IKeySource, IDisposable
{
    private readonly SecretKey? _passphrase;
    private readonly SecretKey? _providedKey;
    private readonly ConcurrentDictionary<string, LocalKek> _cache = new(StringComparer.Ordinal);

    public CredentialKeySource(SecretKey? passphrase = null, SecretKey? providedKey = null)
    {
        _passphrase = passphrase;
        _providedKey = providedKey;
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
            PassphraseKeySource.Type => PassphraseKeySource.Derive(scope.KeySource, Require(_passphrase, scope, "a passphrase (--passphrase-file)")),
            ProvidedKeySource.Type => ProvidedKeySource.Resolve(scope.KeySource, Require(_providedKey, scope, "a key (--key-file)")),
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
        _passphrase?.Dispose();
        _providedKey?.Dispose();
    }

    private static ReadOnlySpan<byte> Require(SecretKey? secret, ScopeRecord scope, string what) =>
        secret is null
            ? throw new KeyAccessException($"scope '{scope.Name}' needs {what}")
            : secret.Span;
}

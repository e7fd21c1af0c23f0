using EncFs.Crypto;

namespace EncFs.Core.Keys;

/// <summary>
/// A key encryption key (KEK): wraps and unwraps a scope's DEK, binding associated data.
/// Where the KEK lives (a passphrase-derived key in memory, an HSM, a vault) is the provider's
/// business; the volume only ever sees wrapped keys and the unwrapped DEK.
/// </summary>
public interface IKeyEncryptionKey : IDisposable
{
    /// <summary>Names the KEK (recorded with each wrapped key, bound into its associated data).</summary>
    string KeyId { get; }

    /// <summary>The KEK's version; rotation re-wraps under a newer one.</summary>
    string KeyVersion { get; }

    byte[] Wrap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData);

    /// <summary>Unwraps; throws <see cref="WrongKeyException"/> when the KEK is not the one that wrapped.</summary>
    SecretKey Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData);
}

/// <summary>Finds the KEK of a scope from its key source description and the caller's credentials.</summary>
public interface IKeySource
{
    /// <summary>Returns the scope's KEK, or throws <see cref="KeyAccessException"/> saying why not.</summary>
    IKeyEncryptionKey GetKek(Format.ScopeRecord scope);

    /// <summary>
    /// Whether the scope's KEK can be taken away at its source (deleted, disabled, denied), so
    /// that a mounted volume should keep asking. A passphrase or a provided key cannot.
    /// </summary>
    bool IsRevocable(Format.ScopeRecord scope) => true;

    /// <summary>Forgets any KEK cached for the scope, so the next <see cref="GetKek"/> asks its source again.</summary>
    void Forget(Format.ScopeRecord scope)
    {
    }
}

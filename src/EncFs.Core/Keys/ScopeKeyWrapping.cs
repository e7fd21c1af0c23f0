using EncFs.Core.Format;
using EncFs.Crypto;

namespace EncFs.Core.Keys;

/// <summary>Envelope encryption of a scope's keys: new DEK generations, wrapping and unwrapping.</summary>
public static class ScopeKeyWrapping
{
    public const int DekSize = 32;

    /// <summary>Generates a fresh DEK (and infrastructure key) for a new generation and wraps it.</summary>
    public static ScopeKeys CreateGeneration(VolumeHeader volume, ScopeRecord scope, int generation, IKeyEncryptionKey kek)
    {
        using var material = SecretKey.Generate(scope.InfrastructureEncryption ? 2 * DekSize : DekSize);
        var aad = WrapAssociatedData.For(volume, scope, generation, kek.KeyId, kek.KeyVersion);
        scope.Keys.Add(new WrappedKeyRecord
        {
            Generation = generation,
            KekId = kek.KeyId,
            KekVersion = kek.KeyVersion,
            Wrapped = Convert.ToBase64String(kek.Wrap(material.Span, aad)),
        });
        scope.CurrentGeneration = generation;
        return Split(scope, generation, material);
    }

    /// <summary>Unwraps one generation; <see cref="WrongKeyException"/> when the KEK does not open it.</summary>
    public static ScopeKeys Unwrap(VolumeHeader volume, ScopeRecord scope, WrappedKeyRecord key, IKeyEncryptionKey kek)
    {
        byte[] wrapped;
        try
        {
            wrapped = Convert.FromBase64String(key.Wrapped);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"scope '{scope.Name}': wrapped key of generation {key.Generation} is damaged", e);
        }

        var aad = WrapAssociatedData.For(volume, scope, key.Generation, key.KekId, key.KekVersion);
        using var material = kek.Unwrap(wrapped, aad);
        int expected = scope.InfrastructureEncryption ? 2 * DekSize : DekSize;
        if (material.Length != expected)
        {
            throw new InvalidDataException($"scope '{scope.Name}': unwrapped key has {material.Length} bytes, expected {expected}");
        }

        return Split(scope, key.Generation, material);
    }

    /// <summary>Wraps an unlocked generation again under another KEK (rotation without touching data).</summary>
    public static WrappedKeyRecord Rewrap(VolumeHeader volume, ScopeRecord scope, ScopeKeys keys, IKeyEncryptionKey kek)
    {
        using var material = keys.Material();
        var aad = WrapAssociatedData.For(volume, scope, keys.Generation, kek.KeyId, kek.KeyVersion);
        return new WrappedKeyRecord
        {
            Generation = keys.Generation,
            KekId = kek.KeyId,
            KekVersion = kek.KeyVersion,
            Wrapped = Convert.ToBase64String(kek.Wrap(material.Span, aad)),
        };
    }

    private static ScopeKeys Split(ScopeRecord scope, int generation, SecretKey material)
    {
        var dek = SecretKey.Copy(material.Span[..DekSize]);
        var infrastructure = scope.InfrastructureEncryption ? SecretKey.Copy(material.Span[DekSize..]) : null;
        return new ScopeKeys(Guid128.Parse(scope.Id), generation, dek, infrastructure);
    }
}

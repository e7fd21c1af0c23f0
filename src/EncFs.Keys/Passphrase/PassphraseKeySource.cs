using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Keys.Local;

namespace EncFs.Keys.Passphrase;

/// <summary>The passphrase key source: KEK = Argon2id(passphrase, salt, stored parameters).</summary>
public static class PassphraseKeySource
{
    public const string Type = "passphrase";

    /// <summary>A new descriptor (fresh salt) and its KEK.</summary>
    public static (JsonObject Descriptor, LocalKek Kek) Create(ReadOnlySpan<byte> passphrase, Argon2Parameters parameters)
    {
        if (passphrase.IsEmpty)
        {
            throw new ArgumentException("the passphrase is empty", nameof(passphrase));
        }

        var salt = RandomNumberGenerator.GetBytes(16);
        var descriptor = new JsonObject { ["type"] = Type, ["argon2id"] = parameters.ToJson(salt) };
        return (descriptor, Derive(descriptor, passphrase));
    }

    public static LocalKek Derive(JsonObject descriptor, ReadOnlySpan<byte> passphrase)
    {
        var (parameters, salt) = Argon2Parameters.FromJson(descriptor["argon2id"] as JsonObject);
        return new LocalKek(Argon2idKdf.Derive(passphrase, salt, parameters), Type, "1");
    }
}

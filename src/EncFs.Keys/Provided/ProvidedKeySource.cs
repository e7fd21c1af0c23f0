using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Local;

namespace EncFs.Keys.Provided;

/// <summary>
/// The customer-provided key source: a raw 256-bit KEK given at every open, never stored. The
/// header keeps its SHA-256 only, to tell a wrong key from a damaged header.
/// </summary>
public static class ProvidedKeySource
{
    public const string Type = "provided";
    public const int KeySize = 32;

    public static (JsonObject Descriptor, LocalKek Kek) Create(ReadOnlySpan<byte> key)
    {
        RequireSize(key);
        var descriptor = new JsonObject { ["type"] = Type, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(key)) };
        return (descriptor, Resolve(descriptor, key));
    }

    public static LocalKek Resolve(JsonObject descriptor, ReadOnlySpan<byte> key)
    {
        if (!Matches(descriptor, key))
        {
            throw new WrongKeyException();
        }

        return new LocalKek(SecretKey.Copy(key), Type, ExpectedHash(descriptor)[..16]);
    }

    /// <summary>Whether <paramref name="key"/> is the one whose SHA-256 the scope stores.</summary>
    public static bool Matches(JsonObject descriptor, ReadOnlySpan<byte> key)
    {
        RequireSize(key);
        var actual = Convert.ToHexStringLower(SHA256.HashData(key));
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(ExpectedHash(descriptor)), System.Text.Encoding.ASCII.GetBytes(actual));
    }

    private static string ExpectedHash(JsonObject descriptor) =>
        descriptor["sha256"]?.GetValue<string>() ?? throw new InvalidDataException("the provided-key source in the volume header has no sha256");

    private static void RequireSize(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"a provided key is {KeySize} bytes (64 hex digits or 32 raw bytes), not {key.Length} bytes");
        }
    }
}

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
        RequireSize(key);
        var expected = descriptor["sha256"]?.GetValue<string>() ?? throw new InvalidDataException("the provided-key source in the volume header has no sha256");
        var actual = Convert.ToHexStringLower(SHA256.HashData(key));
        if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(expected), System.Text.Encoding.ASCII.GetBytes(actual)))
        {
            throw new WrongKeyException();
        }

        return new LocalKek(SecretKey.Copy(key), Type, expected[..16]);
    }

    private static void RequireSize(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"a provided key is {KeySize} bytes (64 hex digits or 32 raw bytes), not {key.Length} bytes");
        }
    }
}

using Konscious.Security.Cryptography;
using EncFs.Crypto;

namespace EncFs.Keys.Passphrase;

/// <summary>Argon2id (RFC 9106) from a passphrase to a 32-byte KEK.</summary>
internal static class Argon2idKdf
{
    public static SecretKey Derive(ReadOnlySpan<byte> passphrase, byte[] salt, Argon2Parameters parameters)
    {
        var password = GC.AllocateArray<byte>(passphrase.Length, pinned: true);
        passphrase.CopyTo(password);
        try
        {
            using var argon = new Argon2id(password)
            {
                Salt = salt,
                MemorySize = parameters.MemoryKiB,
                Iterations = parameters.Iterations,
                DegreeOfParallelism = parameters.Parallelism,
            };
            var derived = argon.GetBytes(32);
            try
            {
                return SecretKey.Copy(derived);
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(derived);
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(password);
        }
    }
}

using System.Security.Cryptography;
using EncFs.Crypto.Xts;

namespace EncFs.Crypto.Tests.Xts;

/// <summary>Both XTS implementations, so every test runs against each of them.</summary>
internal static class XtsTestSupport
{
    public const string OpenSsl = "OpenSSL";
    public const string Ecb = "ECB";

    /// <summary>On Linux OpenSSL is required, so it is always listed there: a missing libcrypto fails loudly.</summary>
    public static TheoryData<string> Engines
    {
        get
        {
            var data = new TheoryData<string> { Ecb };
            if (OperatingSystem.IsLinux() || OpenSslXts.IsSupported)
            {
                data.Add(OpenSsl);
            }

            return data;
        }
    }

    public static XtsSectorCipher Create(string engine, ReadOnlySpan<byte> key) => engine switch
    {
        OpenSsl => XtsSectorCipher.CreateOpenSsl(key),
        Ecb => XtsSectorCipher.CreateEcb(key),
        _ => throw new ArgumentOutOfRangeException(nameof(engine), engine, null),
    };

    /// <summary>A random key whose halves differ (equal halves are rejected).</summary>
    public static byte[] RandomKey(Random random)
    {
        byte[] key = new byte[XtsSectorCipher.KeySize];
        do
        {
            random.NextBytes(key);
        }
        while (key.AsSpan(0, 32).SequenceEqual(key.AsSpan(32)));

        return key;
    }

    public static byte[] RandomBytes(Random random, int length)
    {
        byte[] data = new byte[length];
        random.NextBytes(data);
        return data;
    }

    public static byte[] Encrypt(XtsSectorCipher cipher, ulong unit, byte[] plaintext)
    {
        byte[] ciphertext = new byte[plaintext.Length];
        cipher.Encrypt(unit, plaintext, ciphertext);
        return ciphertext;
    }

    public static byte[] Decrypt(XtsSectorCipher cipher, ulong unit, byte[] ciphertext)
    {
        byte[] plaintext = new byte[ciphertext.Length];
        cipher.Decrypt(unit, ciphertext, plaintext);
        return plaintext;
    }

    public static int NewSeed() => RandomNumberGenerator.GetInt32(int.MaxValue);
}

using System.Security.Cryptography;

namespace EncFs.Core.Tests.Support;

/// <summary>
/// IEEE 1619 AES-256-XTS written from the standard over .NET's AES-ECB, for checking the on-disk
/// format independently of EncFs.Crypto. Whole 16-byte blocks only (sectors always are).
/// </summary>
public static class ReferenceXts
{
    public static byte[] Decrypt(ReadOnlySpan<byte> key64, ulong sector, ReadOnlySpan<byte> ciphertext) =>
        Transform(key64, sector, ciphertext, encrypt: false);

    public static byte[] Encrypt(ReadOnlySpan<byte> key64, ulong sector, ReadOnlySpan<byte> plaintext) =>
        Transform(key64, sector, plaintext, encrypt: true);

    private static byte[] Transform(ReadOnlySpan<byte> key64, ulong sector, ReadOnlySpan<byte> input, bool encrypt)
    {
        Assert.Equal(64, key64.Length);
        Assert.Equal(0, input.Length % 16);
        using var data = Aes.Create();
        data.Key = key64[..32].ToArray();
        using var tweakCipher = Aes.Create();
        tweakCipher.Key = key64[32..].ToArray();

        var tweak = new byte[16];
        BitConverter.TryWriteBytes(tweak, sector); // little-endian on every platform .NET runs here
        Assert.True(BitConverter.IsLittleEndian);
        var t = tweakCipher.EncryptEcb(tweak, PaddingMode.None);
        var output = new byte[input.Length];
        var block = new byte[16];
        for (int at = 0; at < input.Length; at += 16)
        {
            for (int i = 0; i < 16; i++)
            {
                block[i] = (byte)(input[at + i] ^ t[i]);
            }

            var transformed = encrypt ? data.EncryptEcb(block, PaddingMode.None) : data.DecryptEcb(block, PaddingMode.None);
            for (int i = 0; i < 16; i++)
            {
                output[at + i] = (byte)(transformed[i] ^ t[i]);
            }

            // t *= alpha in GF(2^128), little-endian byte order.
            int carry = 0;
            for (int i = 0; i < 16; i++)
            {
                int next = t[i] >> 7;
                t[i] = (byte)((t[i] << 1) | carry);
                carry = next;
            }

            if (carry != 0)
            {
                t[0] ^= 0x87;
            }
        }

        return output;
    }
}

using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Keys;

/// <summary>
/// Secrets as files hold them (passphrase, provided key, PIN): parsed into a <see cref="SecretKey"/>
/// and the file's bytes wiped. Bad content is a <see cref="KeyAccessException"/> naming the file.
/// </summary>
public static class SecretFiles
{
    /// <summary>A passphrase or PIN: the content without its final newline(s); never empty.</summary>
    public static SecretKey Line(byte[] content, string what, string source)
    {
        try
        {
            int length = content.Length;
            while (length > 0 && content[length - 1] is (byte)'\n' or (byte)'\r')
            {
                length--;
            }

            return length == 0
                ? throw new KeyAccessException($"the {what} file '{source}' is empty")
                : SecretKey.Copy(content.AsSpan(0, length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>A provided 256-bit key: 32 raw bytes or 64 hex digits.</summary>
    public static SecretKey ProvidedKey(byte[] content, string source)
    {
        try
        {
            if (content.Length == 32)
            {
                return SecretKey.Copy(content);
            }

            var text = Encoding.ASCII.GetString(content).Trim();
            if (text.Length == 64 && text.All(Uri.IsHexDigit))
            {
                var key = Convert.FromHexString(text);
                try
                {
                    return SecretKey.Copy(key);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(key);
                }
            }

            throw new KeyAccessException($"the key file '{source}' must hold 64 hex digits or 32 raw bytes");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }
}

using System.Security.Cryptography;

namespace EncFs.Crypto;

/// <summary>
/// A wrapped key failed authentication on unwrap: the key-encryption key is wrong, or the
/// wrapped key or its associated data was altered (or truncated).
/// </summary>
/// <remarks>
/// Deliberately one exception for all these causes: AEAD cannot tell them apart, and
/// pretending otherwise would mislead. Callers turn it into "wrong passphrase / key, or the
/// volume header was altered".
/// </remarks>
public sealed class KeyUnwrapException : CryptographicException
{
    private const string DefaultMessage =
        "Cannot unwrap the key: wrong key, or the wrapped key or its associated data was altered.";

    public KeyUnwrapException()
        : base(DefaultMessage)
    {
    }

    public KeyUnwrapException(string message)
        : base(message)
    {
    }

    public KeyUnwrapException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

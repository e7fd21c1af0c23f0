namespace EncFs.Core.Keys;

/// <summary>A scope's key could not be obtained: wrong credentials, source unreachable, scope disabled.</summary>
public class KeyAccessException : Exception
{
    public KeyAccessException()
    {
    }

    public KeyAccessException(string message)
        : base(message)
    {
    }

    public KeyAccessException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The credentials given do not open the key: a wrong passphrase or key.</summary>
public sealed class WrongKeyException : KeyAccessException
{
    public WrongKeyException()
        : base("wrong passphrase or key")
    {
    }

    public WrongKeyException(string message)
        : base(message)
    {
    }

    public WrongKeyException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The key source could not be reached (network, throttling, a server error): nothing says the
/// key was revoked, so a volume already unlocked keeps serving and checks again later.
/// </summary>
public sealed class KeyUnavailableException : KeyAccessException
{
    public KeyUnavailableException()
    {
    }

    public KeyUnavailableException(string message)
        : base(message)
    {
    }

    public KeyUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

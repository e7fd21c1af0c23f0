using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;

namespace EncFs.Cli.Infrastructure;

/// <summary>Exit codes of DESIGN.md, and the one place errors become messages.</summary>
internal static class ExitCodes
{
    public const int Ok = 0, Failure = 1, Usage = 2;

    /// <summary>Runs a command body; every error becomes one line on stderr and an exit code.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            return Report(e.Message, Usage);
        }
        catch (RemoteFailureException e)
        {
            return Report(e.Message, e.ExitCode);
        }
        catch (Service.Control.ControlSocketException e)
        {
            return Report(e.Message, Usage);
        }
        catch (WrongKeyException e)
        {
            return Report(e.Message + "; nothing was changed", Usage);
        }
        catch (KeyAccessException e)
        {
            return Report(e.Message, Usage);
        }
        catch (UnsupportedFormatException e)
        {
            return Report(e.Message, Usage);
        }
        catch (FsException e) when (e.Errno is Errno.ENOENT or Errno.EINVAL or Errno.EEXIST or Errno.ENOTEMPTY or Errno.EBUSY or Errno.ENOTDIR or Errno.EACCES or Errno.EPERM)
        {
            return Report(e.Message, Usage);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            return Report(e.Message, Failure);
        }
    }

    private static int Report(string message, int code)
    {
        Console.Error.WriteLine($"efs: {message}");
        return code;
    }
}

/// <summary>The command line asked for something impossible; the message says what to do.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The process serving a mounted volume refused or failed a request; its exit code is kept.</summary>
internal sealed class RemoteFailureException : Exception
{
    public RemoteFailureException()
    {
    }

    public RemoteFailureException(string message)
        : base(message)
    {
    }

    public RemoteFailureException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public RemoteFailureException(string message, int exitCode)
        : base(message) => ExitCode = exitCode;

    public int ExitCode { get; } = ExitCodes.Failure;
}

namespace EncFs.Core.Backing;

/// <summary>A filesystem operation failed with a POSIX error; the message says what and where.</summary>
public sealed class FsException : IOException
{
    public FsException(Errno errno, string message)
        : base(message)
    {
        Errno = errno;
        HResult = (int)errno;
    }

    public FsException(Errno errno, string message, Exception inner)
        : base(message, inner)
    {
        Errno = errno;
        HResult = (int)errno;
    }

    public FsException()
        : this(Errno.EIO, "I/O error")
    {
    }

    public FsException(string message)
        : this(Errno.EIO, message)
    {
    }

    public FsException(string message, Exception inner)
        : this(Errno.EIO, message, inner)
    {
    }

    public Errno Errno { get; }

    internal static FsException FromLastError(string operation, string path)
    {
        var errno = (Errno)System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return new FsException(errno, $"{operation} '{path}': {Describe(errno)}");
    }

    public static string Describe(Errno errno) =>
        System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage((int)errno) + $" ({errno})";
}

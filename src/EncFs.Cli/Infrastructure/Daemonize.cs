using System.Runtime.InteropServices;

namespace EncFs.Cli.Infrastructure;

/// <summary>Once a background daemon is ready, its standard streams leave the terminal that started it.</summary>
internal static partial class Daemonize
{
    private const int O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_APPEND = 0x400;

    public static void DetachStandardStreams(string? logFile)
    {
        int devNull = Open("/dev/null", O_RDWR, 0);
        int log = logFile is null ? devNull : Open(logFile, O_WRONLY | O_CREAT | O_APPEND, 0x180);
        if (devNull < 0 || log < 0)
        {
            return;
        }

        Dup2(devNull, 0);
        Dup2(log, 1);
        Dup2(log, 2);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int Dup2(int oldFd, int newFd);
}

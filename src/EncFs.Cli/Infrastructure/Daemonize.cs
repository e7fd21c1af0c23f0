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

        var originals = new[] { LinkTarget(0), LinkTarget(1), LinkTarget(2) };
        Dup2(devNull, 0);
        Dup2(log, 1);
        Dup2(log, 2);

        // .NET's console streams (and so the logger) write through their own dup of fds 0-2:
        // re-point those copies too, or the log file stays empty and the launcher's pipe never
        // reaches end-of-file. Only pipes, sockets and terminals are matched, never a file.
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int fd) || fd <= 2 || fd == devNull || fd == log
                || LinkTarget(fd) is not { } target || !IsStream(target))
            {
                continue;
            }

            if (target == originals[0])
            {
                Dup2(devNull, fd);
            }
            else if (target == originals[1] || target == originals[2])
            {
                Dup2(log, fd);
            }
        }
    }

    private static string? LinkTarget(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool IsStream(string target) =>
        target.StartsWith("pipe:", StringComparison.Ordinal) || target.StartsWith("socket:", StringComparison.Ordinal)
        || target.StartsWith("/dev/pts/", StringComparison.Ordinal) || target.StartsWith("/dev/tty", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int Dup2(int oldFd, int newFd);
}

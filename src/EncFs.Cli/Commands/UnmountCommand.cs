using System.CommandLine;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Backing;
using EncFs.Fuse.Mounting;

namespace EncFs.Cli.Commands;

/// <summary>efs unmount: unmounts and waits until the daemon has released the volume.</summary>
internal static class UnmountCommand
{
    public static Command Create()
    {
        var mountPoint = new Argument<string>("mountpoint") { Description = "Where the volume is mounted" };
        var lazy = new Option<bool>("--lazy", "-z") { Description = "Detach now even if busy; the daemon stops when the last user lets go" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the daemon to release the volume", DefaultValueFactory = _ => 30 };
        var command = new Command("unmount", "Unmount a volume (flushes and releases it)") { mountPoint, lazy, timeout };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(result.GetRequiredValue(mountPoint)));
            var entry = MountTable.Find(target);
            if (entry is null || entry.FileSystemType != MountTable.FileSystemType && entry.FileSystemType != "fuse")
            {
                throw new UsageException($"'{target}' is not an efs mount point");
            }

            FuseMounter.Unmount(target, result.GetValue(lazy));
            if (!WaitForRelease(entry.Source, TimeSpan.FromSeconds(result.GetValue(timeout))))
            {
                Console.Error.WriteLine($"efs: unmounted '{target}', but the daemon still holds '{entry.Source}' (open files, with --lazy?)");
                return ExitCodes.Failure;
            }

            Console.Error.WriteLine($"Unmounted {target}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The daemon holds the volume lock until it has flushed and closed everything.</summary>
    private static bool WaitForRelease(string backing, TimeSpan timeout)
    {
        var lockFile = Path.Combine(backing, "efs.lock");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var probe = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (FileNotFoundException)
            {
                return true;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
            catch (IOException)
            {
                return false;
            }
        }
    }
}

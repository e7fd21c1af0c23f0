using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace EncFs.Attack.Tests.Support;

/// <summary>
/// A volume created with `efs init` (customer-provided key: no Argon2) in a scratch directory and
/// mounted in the background with `efs mount`. Dispose always unmounts (efs unmount, then
/// `umount -l`), makes sure the daemon is gone, and removes the scratch directory; it never
/// deletes anything while a mount is still in place below it.
/// </summary>
public sealed partial class MountedVolume : IDisposable
{
    private readonly List<string> _extraMounts = [];
    private readonly string[] _mountOptions;

    private MountedVolume(string[] mountOptions, string? tmpfsSize)
    {
        _mountOptions = mountOptions;
        Root = Path.Combine(Path.GetTempPath(), "efs-attack-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        // Traversable by other users whatever the umask: the permission tests run as nobody.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        var backingParent = Root;
        if (tmpfsSize is not null)
        {
            // A small filesystem of its own under the backing directory: for the full-disk tests.
            backingParent = Path.Combine(Root, "disk");
            Directory.CreateDirectory(backingParent);
            ProcessRunner.Run("mount", ["-t", "tmpfs", "-o", $"size={tmpfsSize},mode=0755", "tmpfs", backingParent]).EnsureSuccess();
            _extraMounts.Add(backingParent);
        }

        Backing = Path.Combine(backingParent, "backing");
        MountPoint = Path.Combine(Root, "mnt");
        KeyFile = Path.Combine(Root, "key");
        LogFile = Path.Combine(Root, "daemon.log");
        Directory.CreateDirectory(MountPoint);
        File.SetUnixFileMode(MountPoint, (UnixFileMode)0b111_101_101);
        File.WriteAllText(KeyFile, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n");
        File.SetUnixFileMode(KeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>The scratch directory holding the backing directory, mount point, key and daemon log.</summary>
    public string Root { get; }

    public string Backing { get; }

    public string MountPoint { get; }

    public string KeyFile { get; }

    /// <summary>The daemon's log (outside the backing directory).</summary>
    public string LogFile { get; }

    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "(no daemon log)";

    /// <summary>Creates, initialises and (unless told otherwise) mounts a fresh volume.</summary>
    public static MountedVolume Create(string[]? mountOptions = null, string? tmpfsSize = null, bool mount = true, string[]? initOptions = null)
    {
        var volume = new MountedVolume(mountOptions ?? [], tmpfsSize);
        try
        {
            ProcessRunner.Efs(["init", volume.Backing, "--key-source", "provided", "--key-file", volume.KeyFile, .. initOptions ?? []]).EnsureSuccess();
            if (mount)
            {
                volume.Mount();
            }

            return volume;
        }
        catch
        {
            volume.Dispose();
            throw;
        }
    }

    /// <summary>A path inside the mount.</summary>
    public string PathOf(params string[] parts) => Path.Combine([MountPoint, .. parts]);

    /// <summary>A fresh, uniquely named directory inside the mount (tests sharing a mount stay apart).</summary>
    public string NewDirectory(string hint)
    {
        var path = PathOf(hint + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    public ProcessResult TryMount(params string[] extraArguments)
    {
        var arguments = new List<string> { "mount", Backing, MountPoint, "--key-file", KeyFile, "--log-file", LogFile };
        foreach (var option in _mountOptions)
        {
            arguments.AddRange(["-o", option]);
        }

        arguments.AddRange(extraArguments);
        return ProcessRunner.Efs([.. arguments]);
    }

    /// <summary>`efs mount` in the background: returns once the mount serves requests.</summary>
    public ProcessResult Mount()
    {
        var result = TryMount();
        Assert.True(result.ExitCode == 0, result + "\ndaemon log:\n" + Log);
        Assert.True(Mounts.IsMounted(MountPoint), $"efs mount returned 0 but {MountPoint} is not in /proc/self/mountinfo\n{result}");
        Assert.True(DaemonPid() is not null, "no daemon process for " + MountPoint);
        return result;
    }

    /// <summary>`efs unmount`: returns once the daemon released the volume.</summary>
    public void Unmount()
    {
        var result = ProcessRunner.Efs("unmount", MountPoint, "--timeout", "30");
        Assert.True(result.ExitCode == 0, result + "\ndaemon log:\n" + Log);
        Assert.False(Mounts.IsMounted(MountPoint), $"{MountPoint} still mounted after efs unmount");
        WaitForDaemonExit(TimeSpan.FromSeconds(10));
    }

    public void Remount()
    {
        Unmount();
        Mount();
    }

    /// <summary>The mount daemon's pid, found the way an operator would (pgrep -f "efs.dll mount.*MOUNTPOINT").</summary>
    public int? DaemonPid()
    {
        var pattern = $"efs.dll mount .*{Regex.Escape(MountPoint)}( |$)";
        var result = ProcessRunner.Run("pgrep", ["-f", pattern]);
        var pids = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        return pids.Count switch
        {
            0 => null,
            1 => pids[0],
            _ => throw new InvalidOperationException($"several daemons serve {MountPoint}: {string.Join(", ", pids)}"),
        };
    }

    /// <summary>kill -9 of the daemon: leaves a stale mount behind, as a crash would.</summary>
    public void KillDaemon()
    {
        var pid = DaemonPid() ?? throw new InvalidOperationException("no daemon to kill for " + MountPoint);
        ProcessRunner.Run("kill", ["-9", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess();
        WaitForExit(pid, TimeSpan.FromSeconds(10));
    }

    public void Dispose()
    {
        // Best effort, in order; every step runs even if an earlier one failed.
        if (Mounts.IsMounted(MountPoint))
        {
            var result = TryRun(() => ProcessRunner.Efs("unmount", MountPoint, "--timeout", "15"));
            if (result?.ExitCode != 0 || Mounts.IsMounted(MountPoint))
            {
                while (Mounts.IsMounted(MountPoint) && TryRun(() => ProcessRunner.Run("umount", ["-l", MountPoint]))?.ExitCode == 0)
                {
                }
            }
        }

        if (TryRun(DaemonPid) is int pid)
        {
            if (!WaitForExit(pid, TimeSpan.FromSeconds(10)))
            {
                TryRun(() => ProcessRunner.Run("kill", ["-9", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
                WaitForExit(pid, TimeSpan.FromSeconds(5));
            }
        }

        foreach (var mount in Enumerable.Reverse(_extraMounts))
        {
            if (Mounts.IsMounted(mount))
            {
                TryRun(() => ProcessRunner.Run("umount", ["-l", mount]));
            }
        }

        if (!Mounts.AnyBelow(Root))
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private void WaitForDaemonExit(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DaemonPid() is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the daemon did not exit after unmount\n" + Log);
            Thread.Sleep(50);
        }
    }

    private static bool WaitForExit(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static T? TryRun<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return default;
        }
    }
}

/// <summary>The kernel's mount table as /proc/self/mountinfo shows it.</summary>
public static class Mounts
{
    public static IReadOnlyList<(string MountPoint, string Type, string Source)> Read() =>
        [.. File.ReadLines("/proc/self/mountinfo").Select(line =>
        {
            var fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-");
            return (Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2]));
        })];

    public static int Count(string mountPoint) => Read().Count(m => m.MountPoint == Path.TrimEndingDirectorySeparator(mountPoint));

    public static bool IsMounted(string mountPoint) => Count(mountPoint) > 0;

    public static bool AnyBelow(string directory) =>
        Read().Any(m => m.MountPoint == directory || m.MountPoint.StartsWith(directory + "/", StringComparison.Ordinal));

    /// <summary>What a mount point's entries look like, to prove a failed command left the mounts alone.</summary>
    public static string Describe(string root) =>
        string.Join('\n', Read().Where(m => m.MountPoint.StartsWith(root, StringComparison.Ordinal)).Select(m => $"{m.MountPoint} {m.Type} {m.Source}"));

    private static string Unescape(string field) =>
        Regex.Replace(field, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());
}

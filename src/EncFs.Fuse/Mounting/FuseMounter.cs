using System.Diagnostics;
using System.Runtime.InteropServices;
using EncFs.Core.Backing;
using EncFs.Fuse.Native;
using Microsoft.Extensions.Logging;

namespace EncFs.Fuse.Mounting;

/// <summary>Options of one FUSE mount.</summary>
public sealed record FuseMountOptions
{
    /// <summary>Let users other than the mounting one in (permissions still apply).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Allow mounting over a non-empty directory.</summary>
    public bool NonEmpty { get; init; }

    /// <summary>Shown as the mount's source in /proc/mounts: the backing directory.</summary>
    public string Source { get; init; } = "efs";
}

/// <summary>
/// Mounts and unmounts: mount(2) directly when root, fusermount3 (which passes back the
/// /dev/fuse descriptor over a socket) otherwise. Checks the mount point first and clears a
/// stale mount left by a killed daemon.
/// </summary>
public static unsafe class FuseMounter
{
    private const string Fusermount = "fusermount3";

    public static bool IsRoot => FuseLibc.Getuid() == 0;

    /// <summary>Refuses a missing, non-directory, busy or (unless allowed) non-empty mount point; clears a stale one.</summary>
    public static void CheckMountPoint(string mountPoint, FuseMountOptions options, ILogger logger)
    {
        if (MountTable.Find(mountPoint) is { } existing)
        {
            if (existing.FileSystemType == MountTable.FileSystemType && IsStale(mountPoint))
            {
                logger.LogWarning("Clearing stale mount at {MountPoint} left by a daemon that died", mountPoint);
                Unmount(mountPoint, lazy: true);
            }
            else
            {
                throw new FsException(Errno.EBUSY, $"'{mountPoint}' is already a mount point ({existing.FileSystemType} from {existing.Source}); unmount it first");
            }
        }

        if (!Directory.Exists(mountPoint))
        {
            throw new FsException(Errno.ENOENT, $"mount point '{mountPoint}' does not exist or is not a directory; create it first");
        }

        if (!options.NonEmpty && Directory.EnumerateFileSystemEntries(mountPoint).Any())
        {
            throw new FsException(Errno.ENOTEMPTY, $"mount point '{mountPoint}' is not empty (use -o nonempty to mount over it anyway)");
        }
    }

    /// <summary>A FUSE mount whose daemon is gone answers ENOTCONN.</summary>
    public static bool IsStale(string mountPoint)
    {
        const int O_DIRECTORY = 0x10000, ENOTCONN = 107;
        int fd = FuseLibc.Open(mountPoint, O_DIRECTORY | FuseLibc.O_CLOEXEC);
        if (fd >= 0)
        {
            FuseLibc.Close(fd);
            return false;
        }

        return Marshal.GetLastPInvokeError() == ENOTCONN;
    }

    /// <summary>Mounts and returns the /dev/fuse descriptor that will carry the requests.</summary>
    public static int Mount(string mountPoint, FuseMountOptions options)
    {
        var common = "default_permissions" + (options.AllowOther ? ",allow_other" : string.Empty);
        return IsRoot ? MountDirect(mountPoint, options, common) : MountWithFusermount(mountPoint, options, common);
    }

    public static void Unmount(string mountPoint, bool lazy)
    {
        if (IsRoot)
        {
            if (FuseLibc.Umount2(mountPoint, lazy ? FuseLibc.MNT_DETACH : 0) != 0)
            {
                var errno = (Errno)Marshal.GetLastPInvokeError();
                throw new FsException(errno, errno == Errno.EBUSY
                    ? $"'{mountPoint}' is busy (files open, or a process has it as working directory); close them, or unmount lazily"
                    : $"unmount '{mountPoint}': {FsException.Describe(errno)}");
            }

            return;
        }

        var result = RunFusermount(["-u", .. lazy ? new[] { "-z" } : [], "--", mountPoint], null);
        if (result.ExitCode != 0)
        {
            throw new FsException(Errno.EBUSY, $"unmount '{mountPoint}': {result.Error.Trim()}");
        }
    }

    private static int MountDirect(string mountPoint, FuseMountOptions options, string common)
    {
        int fd = FuseLibc.Open("/dev/fuse", FuseLibc.O_RDWR | FuseLibc.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            throw new FsException(errno, $"cannot open /dev/fuse: {FsException.Describe(errno)} (is the fuse module loaded?)");
        }

        var data = $"fd={fd},rootmode=40000,user_id={FuseLibc.Getuid()},group_id={FuseLibc.Getgid()},{common}";
        if (FuseLibc.Mount(options.Source, mountPoint, MountTable.FileSystemType, FuseLibc.MS_NOSUID | FuseLibc.MS_NODEV, data) != 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            FuseLibc.Close(fd);
            throw new FsException(errno, $"mount '{mountPoint}': {FsException.Describe(errno)}");
        }

        return fd;
    }

    private static int MountWithFusermount(string mountPoint, FuseMountOptions options, string common)
    {
        var fds = stackalloc int[2];
        if (FuseLibc.Socketpair(FuseLibc.AF_UNIX, FuseLibc.SOCK_STREAM, 0, fds) != 0)
        {
            throw new FsException((Errno)Marshal.GetLastPInvokeError(), "socketpair for fusermount3 failed");
        }

        try
        {
            var fsOptions = $"{common},fsname={options.Source.Replace(",", "\\,", StringComparison.Ordinal)},subtype=efs";
            var result = RunFusermount(["-o", fsOptions, "--", mountPoint], fds[0]);
            if (result.ExitCode != 0)
            {
                throw new FsException(Errno.EPERM, $"fusermount3 could not mount '{mountPoint}': {result.Error.Trim()}");
            }

            return ReceiveFd(fds[1]);
        }
        finally
        {
            FuseLibc.Close(fds[0]);
            FuseLibc.Close(fds[1]);
        }
    }

    private static (int ExitCode, string Error) RunFusermount(string[] arguments, int? commFd)
    {
        var info = new ProcessStartInfo(Fusermount) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (commFd is { } fd)
        {
            info.Environment["_FUSE_COMMFD"] = fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        try
        {
            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FsException(Errno.ENOENT, $"{Fusermount} is needed to mount without root: install the fuse3 package ({e.Message})", e);
        }
    }

    /// <summary>Receives the /dev/fuse descriptor fusermount3 sends as SCM_RIGHTS.</summary>
    private static int ReceiveFd(int socket)
    {
        byte data;
        var iov = new FuseLibc.IoVec { Base = &data, Length = 1 };
        const int controlSize = 32;
        var control = stackalloc byte[controlSize];
        var message = new FuseLibc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };
        if (FuseLibc.Recvmsg(socket, &message, 0) <= 0)
        {
            throw new FsException(Errno.EIO, "fusermount3 did not pass the /dev/fuse descriptor");
        }

        var header = (FuseLibc.CmsgHdr*)control;
        if (message.ControlLength < (nuint)sizeof(FuseLibc.CmsgHdr) || header->Level != FuseLibc.SOL_SOCKET || header->Type != FuseLibc.SCM_RIGHTS)
        {
            throw new FsException(Errno.EIO, "fusermount3 sent no descriptor");
        }

        return *(int*)(control + sizeof(FuseLibc.CmsgHdr));
    }
}

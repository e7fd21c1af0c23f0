using EncFs.Core.Volume;
using EncFs.Fuse.Mounting;
using EncFs.Fuse.Session;
using Microsoft.Extensions.Logging;

namespace EncFs.Fuse;

/// <summary>
/// A volume mounted through FUSE: mount, serve until unmounted, release. The frontend is thin:
/// every decision about data lives in <see cref="EncryptedVolume"/>.
/// </summary>
public sealed class FuseHost : IDisposable
{
    private readonly FuseChannel _channel;
    private readonly FuseOperations _operations;
    private readonly ILogger _logger;
    private int _unmountRequested;

    private FuseHost(string mountPoint, FuseChannel channel, FuseOperations operations, ILogger logger)
    {
        MountPoint = mountPoint;
        _channel = channel;
        _operations = operations;
        _logger = logger;
    }

    public string MountPoint { get; }

    /// <summary>Attribute and entry cache lifetime granted to the kernel.</summary>
    public static TimeSpan CacheTimeout { get; } = TimeSpan.FromSeconds(1);

    public static FuseHost Mount(EncryptedVolume volume, string mountPoint, FuseMountOptions options, ILogger logger)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        FuseMounter.CheckMountPoint(full, options, logger);
        var fd = FuseMounter.Mount(full, options with { Source = volume.BackingDirectory });
        logger.LogInformation("Mounted {Backing} at {MountPoint}", volume.BackingDirectory, full);
        return new FuseHost(full, new FuseChannel(fd), new FuseOperations(volume, logger, CacheTimeout), logger);
    }

    /// <summary>Serves requests until the mount goes away (efs unmount, umount, or <see cref="RequestUnmount"/>).</summary>
    public void Run(int? threads = null)
    {
        new FuseServer(_channel, _operations, _logger).Run(threads ?? FuseServer.DefaultThreadCount);
        _logger.LogInformation("Unmounted {MountPoint}", MountPoint);
    }

    /// <summary>Detaches the mount (from a signal handler): serving ends once the kernel lets go.</summary>
    public void RequestUnmount()
    {
        if (Interlocked.Exchange(ref _unmountRequested, 1) == 0)
        {
            try
            {
                FuseMounter.Unmount(MountPoint, lazy: true);
            }
            catch (Core.Backing.FsException e)
            {
                _logger.LogError("Unmount of {MountPoint} failed: {Message}", MountPoint, e.Message);
            }
        }
    }

    public void Dispose()
    {
        _operations.Dispose();
        _channel.Dispose();
    }
}

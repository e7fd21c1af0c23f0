using EncFs.Core.Audit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EncFs.Service;

/// <summary>
/// The hosted service: mounts every configured volume at start, keeps each one mounted on
/// its own, and unmounts them all cleanly (flush, fsync, release) on stop.
/// </summary>
public sealed class MountSupervisor : IHostedService, IDisposable
{
    private readonly List<VolumeSupervisor> _volumes;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private Task[] _running = [];

    public MountSupervisor(ServiceConfig config, ILoggerFactory loggers)
    {
        _logger = loggers.CreateLogger("efs.service");
        IAuditLog audit = config.AuditLog is { } path ? new JsonLinesAuditLog(path) : NullAuditLog.Instance;
        _volumes = [.. config.Volumes.Select(v => new VolumeSupervisor(v, config, loggers.CreateLogger("efs.volume." + v.Name), audit))];
    }

    /// <summary>Names of the volumes mounted right now.</summary>
    public IEnumerable<string> Mounted => _volumes.Where(v => v.IsMounted).Select(v => v.Name);

    /// <summary>Returns once every volume has been mounted or has failed its first attempt, so readiness means something.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting {Count} volume(s)", _volumes.Count);
        _running = [.. _volumes.Select(v => v.RunAsync(_stopping.Token))];
        await Task.WhenAll(_volumes.Select(v => v.FirstAttempt)).WaitAsync(cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Ready: {Mounted} of {Count} volume(s) mounted", _volumes.Count(v => v.IsMounted), _volumes.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Stopping: unmounting every volume");
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var volume in _volumes)
        {
            volume.RequestUnmount();
        }

        await Task.WhenAll(_running).WaitAsync(cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("All volumes unmounted");
    }

    public void Dispose() => _stopping.Dispose();
}

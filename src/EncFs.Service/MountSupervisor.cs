using System.Text.Json.Nodes;
using EncFs.Core.Audit;
using EncFs.Service.Control;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EncFs.Service;

/// <summary>
/// The hosted service: mounts every configured volume at start, keeps each one mounted on
/// its own, answers the control socket, and unmounts them all cleanly (flush, fsync, release)
/// on stop.
/// </summary>
public sealed class MountSupervisor : IHostedService, IDisposable
{
    private readonly List<VolumeSupervisor> _volumes;
    private readonly ServiceConfig _config;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private Task[] _running = [];
    private ControlServer? _control;

    public MountSupervisor(ServiceConfig config, ILoggerFactory loggers)
    {
        _config = config;
        _logger = loggers.CreateLogger("efs.service");
        IAuditLog audit = config.AuditLog is { } path ? new JsonLinesAuditLog(path) : NullAuditLog.Instance;
        _volumes = [.. config.Volumes.Select(v => new VolumeSupervisor(v, config, loggers.CreateLogger("efs.volume." + v.Name), audit))];
    }

    /// <summary>Names of the volumes mounted right now.</summary>
    public IEnumerable<string> Mounted => _volumes.Where(v => v.IsMounted).Select(v => v.Name);

    /// <summary>
    /// Takes the control socket first (a path in use stops the start with nothing mounted), then
    /// returns once every volume has been mounted or has failed its first attempt, so readiness
    /// means something.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _control = ControlServer.Start(_config.ControlSocket, Handle, _logger);
        _logger.LogInformation("Starting {Count} volume(s)", _volumes.Count);
        if (_volumes.Count == 0)
        {
            _logger.LogWarning("No volumes are configured: add them to the configuration and restart the service");
        }

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
        _control?.Dispose();
        _control = null;
        _logger.LogInformation("All volumes unmounted");
    }

    public void Dispose()
    {
        _control?.Dispose();
        _stopping.Dispose();
    }

    /// <summary>The control protocol: list, mount and unmount by name; volume operations by name, backing directory or mount point.</summary>
    private JsonObject Handle(JsonObject request)
    {
        var op = request["op"]!.GetValue<string>();
        if (op == "list")
        {
            return ControlAnswer.Ok(new JsonObject { ["volumes"] = new JsonArray([.. _volumes.Select(v => (JsonNode)v.Describe())]) });
        }

        var named = request["volume"]?.GetValue<string>() ?? throw new ArgumentException("the request needs 'volume' (a name, backing directory or mount point)");
        var volume = _volumes.Find(v => v.Matches(named));
        if (volume is null)
        {
            return ControlAnswer.NotServed(named);
        }

        switch (op)
        {
            case "mount":
                volume.Resume();
                return ControlAnswer.Ok(new JsonObject { ["volume"] = volume.Name, ["state"] = "mounting" });
            case "unmount":
                volume.Hold();
                return ControlAnswer.Ok(new JsonObject { ["volume"] = volume.Name, ["state"] = "unmounting" });
        }

        var control = volume.Control ?? throw new InvalidOperationException($"volume '{volume.Name}' is not mounted");
        return control.Handle(op, request) ?? ControlAnswer.Error($"unknown operation '{op}'", ControlAnswer.Usage);
    }
}

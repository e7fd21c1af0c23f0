using System.Text.Json.Nodes;
using EncFs.Core.Audit;
using EncFs.Core.Volume;
using EncFs.Fuse;
using EncFs.Fuse.Mounting;
using EncFs.Keys;
using EncFs.Service.Control;
using Microsoft.Extensions.Logging;

namespace EncFs.Service;

/// <summary>
/// Keeps one volume mounted: opens and mounts it, serves it on a dedicated thread, and when
/// that fails (wrong key, vault unreachable, mount point busy) or the mount goes away from
/// outside, tries again with exponential backoff, without touching the other volumes. An
/// unmount asked through the control socket holds it unmounted until a mount is asked.
/// </summary>
internal sealed class VolumeSupervisor
{
    private readonly VolumeConfig _config;
    private readonly ServiceConfig _service;
    private readonly ILogger _logger;
    private readonly IAuditLog _audit;
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _resume = NewSignal();
    private volatile FuseHost? _host;
    private volatile VolumeControl? _control;
    private volatile bool _held;
    private volatile string _state = "starting";
    private volatile string? _lastError;
    private int _failures;

    public VolumeSupervisor(VolumeConfig config, ServiceConfig service, ILogger logger, IAuditLog audit)
    {
        _config = config;
        _service = service;
        _logger = logger;
        _audit = audit;
    }

    public string Name => _config.Name;

    public bool IsMounted => _host is not null;

    /// <summary>Completes once the first mount has succeeded or failed (for readiness).</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    /// <summary>The live controls of the mounted volume; null while it is not mounted.</summary>
    public VolumeControl? Control => _control;

    /// <summary>Whether a request naming <paramref name="volume"/> (name, backing directory or mount point) means this one.</summary>
    public bool Matches(string volume) =>
        volume == Name
        || Path.TrimEndingDirectorySeparator(volume) == Path.TrimEndingDirectorySeparator(_config.Backing)
        || Path.TrimEndingDirectorySeparator(volume) == Path.TrimEndingDirectorySeparator(_config.MountPoint);

    public JsonObject Describe()
    {
        var status = _control?.Status() ?? new JsonObject { ["backing"] = _config.Backing, ["mountPoint"] = _config.MountPoint };
        status["name"] = Name;
        status["state"] = _state;
        status["lastError"] = _lastError;
        status["failures"] = _failures;
        return status;
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromSeconds(_service.RetrySeconds);
        using var _ = stopping.Register(() => _firstAttempt.TrySetResult());
        while (!stopping.IsCancellationRequested)
        {
            if (_held)
            {
                _state = "unmounted";
                _firstAttempt.TrySetResult();
                try
                {
                    await _resume.Task.WaitAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                delay = TimeSpan.FromSeconds(_service.RetrySeconds);
                continue;
            }

            try
            {
                _state = "mounting";
                await Task.Factory.StartNew(() => Serve(stopping), stopping, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                if (stopping.IsCancellationRequested || _held)
                {
                    continue;
                }

                _logger.LogWarning("Volume {Volume} was unmounted from outside; mounting it again", Name);
                delay = TimeSpan.FromSeconds(_service.RetrySeconds);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // Whatever made this volume fail, the others keep being served and this one is retried.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _state = "failed";
                _lastError = e.Message;
                Interlocked.Increment(ref _failures);
                _firstAttempt.TrySetResult();
                _logger.LogError("Volume {Volume} ({Backing} at {MountPoint}) failed: {Reason}; retrying in {Delay} s", Name, _config.Backing, _config.MountPoint, e.Message, delay.TotalSeconds);
            }

            try
            {
                await Task.WhenAny(Task.Delay(delay, stopping), _resume.Task).ConfigureAwait(false);
                stopping.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, _service.MaxRetrySeconds));
        }

        _state = "stopped";
    }

    /// <summary>Unmounts (flushing and closing everything) so that <see cref="RunAsync"/> ends.</summary>
    public void RequestUnmount() => _host?.RequestUnmount();

    /// <summary>Unmounts and keeps the volume unmounted until <see cref="Resume"/>.</summary>
    public void Hold()
    {
        _held = true;
        _host?.RequestUnmount();
    }

    /// <summary>Mounts again a volume held unmounted (or retries a failed one now); nothing when it is mounted.</summary>
    public void Resume()
    {
        _held = false;
        Interlocked.Exchange(ref _resume, NewSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Serve(CancellationToken stopping)
    {
        using var keys = new CredentialKeySource(
            () => _config.PassphraseFile is { } p ? SecretFiles.Line(File.ReadAllBytes(p), "passphrase", p) : null,
            _config.KeyFile is { } k ? SecretFiles.ProvidedKey(File.ReadAllBytes(k), k) : null,
            _config.Keystore)
        {
            Pkcs11Pin = () => _config.PinFile is { } f ? SecretFiles.Line(File.ReadAllBytes(f), "PIN", f) : null,
        };
        using var volume = EncryptedVolume.Open(_config.Backing, keys, new VolumeOpenOptions
        {
            Logger = _logger,
            Audit = _audit,
            KeySourceTimeout = TimeSpan.FromSeconds(_service.KeySourceTimeoutSeconds),
        });
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        stopping.ThrowIfCancellationRequested();
        using var host = FuseHost.Mount(volume, _config.MountPoint, new FuseMountOptions { AllowOther = _config.AllowOther }, _logger);
        using var control = new VolumeControl(volume, host, _service.KeyCheckPlan(), _logger);
        volume.AnnounceControlSocket(_service.ControlSocket);
        _host = host;
        _control = control;
        _state = "mounted";
        _lastError = null;
        _firstAttempt.TrySetResult();
        try
        {
            _logger.LogInformation("Volume {Volume} mounted: {Backing} at {MountPoint}", Name, _config.Backing, _config.MountPoint);
            control.ResumeInterruptedWork();
            if (stopping.IsCancellationRequested || _held)
            {
                host.RequestUnmount();
            }

            host.Run();
        }
        finally
        {
            _control = null;
            _host = null;
        }
    }
}

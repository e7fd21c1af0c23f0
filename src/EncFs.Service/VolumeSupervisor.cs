using EncFs.Core.Audit;
using EncFs.Core.Volume;
using EncFs.Fuse;
using EncFs.Fuse.Mounting;
using EncFs.Keys;
using Microsoft.Extensions.Logging;

namespace EncFs.Service;

/// <summary>
/// Keeps one volume mounted: opens and mounts it, serves it on a dedicated thread, and when
/// that fails (wrong key, vault unreachable, mount point busy) or the mount goes away from
/// outside, tries again with exponential backoff, without touching the other volumes.
/// </summary>
internal sealed class VolumeSupervisor
{
    private readonly VolumeConfig _config;
    private readonly ServiceConfig _service;
    private readonly ILogger _logger;
    private readonly IAuditLog _audit;
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile FuseHost? _host;

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

    public async Task RunAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromSeconds(_service.RetrySeconds);
        using var _ = stopping.Register(() => _firstAttempt.TrySetResult());
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Factory.StartNew(() => Serve(stopping), stopping, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                if (stopping.IsCancellationRequested)
                {
                    break;
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
                _firstAttempt.TrySetResult();
                _logger.LogError("Volume {Volume} ({Backing} at {MountPoint}) failed: {Reason}; retrying in {Delay} s", Name, _config.Backing, _config.MountPoint, e.Message, delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, _service.MaxRetrySeconds));
        }
    }

    /// <summary>Unmounts (flushing and closing everything) so that <see cref="RunAsync"/> ends.</summary>
    public void RequestUnmount() => _host?.RequestUnmount();

    private void Serve(CancellationToken stopping)
    {
        using var keys = new CredentialKeySource(
            () => _config.PassphraseFile is { } p ? SecretFiles.Line(File.ReadAllBytes(p), "passphrase", p) : null,
            _config.KeyFile is { } k ? SecretFiles.ProvidedKey(File.ReadAllBytes(k), k) : null,
            _config.Keystore)
        {
            Pkcs11Pin = () => _config.PinFile is { } f ? SecretFiles.Line(File.ReadAllBytes(f), "PIN", f) : null,
        };
        using var volume = EncryptedVolume.Open(_config.Backing, keys, new VolumeOpenOptions { Logger = _logger, Audit = _audit });
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        stopping.ThrowIfCancellationRequested();
        using var host = FuseHost.Mount(volume, _config.MountPoint, new FuseMountOptions { AllowOther = _config.AllowOther }, _logger);
        _host = host;
        _firstAttempt.TrySetResult();
        try
        {
            _logger.LogInformation("Volume {Volume} mounted: {Backing} at {MountPoint}", Name, _config.Backing, _config.MountPoint);
            if (stopping.IsCancellationRequested)
            {
                host.RequestUnmount();
            }

            host.Run();
        }
        finally
        {
            _host = null;
        }
    }
}

using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Fuse;
using EncFs.Keys;
using Microsoft.Extensions.Logging;

namespace EncFs.Service.Control;

/// <summary>How often a mounted volume asks its key sources about its KEKs.</summary>
public sealed record KeyCheckSchedule(TimeSpan RevocationInterval, TimeSpan KeyVersionInterval)
{
    /// <summary>Revocation is noticed within minutes; a new key version is adopted daily.</summary>
    public static KeyCheckSchedule Default { get; } = new(TimeSpan.FromMinutes(5), TimeSpan.FromDays(1));
}

/// <summary>
/// The live controls of one mounted volume: scope state, key checks and rotation, status. Every
/// operation runs under one lock, so a scheduled key check and a request never interleave.
/// </summary>
public sealed class VolumeControl : IDisposable
{
    private readonly EncryptedVolume _volume;
    private readonly FuseHost _host;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Timer _keyCheckTimer;
    private readonly KeyCheckSchedule _schedule;
    private DateTime _lastVersionCheck = DateTime.UtcNow;
    private JsonArray _lastKeyCheck = [];
    private DateTime? _lastKeyCheckTime;
    private bool _disposed;
    private readonly CancellationTokenSource _jobCancel = new();
    private Task? _job;
    private volatile JsonObject _jobState = new() { ["state"] = "none" };

    public VolumeControl(EncryptedVolume volume, FuseHost host, KeyCheckSchedule schedule, ILogger logger)
    {
        _volume = volume;
        _host = host;
        _schedule = schedule;
        _logger = logger;
        // One shot, re-armed after each check: a slow key source never stacks checks up.
        _keyCheckTimer = new Timer(_ => ScheduledKeyCheck(), null, schedule.RevocationInterval, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Resumes a re-encryption an earlier process started and did not finish (call once serving).</summary>
    public void ResumeInterruptedWork()
    {
        lock (_lock)
        {
            if (_volume.PendingReencryption is { } pending && _job is null)
            {
                _logger.LogInformation("Resuming the re-encryption of {Backing} interrupted earlier", _volume.BackingDirectory);
                try
                {
                    StartReencryption(pending == "*" || _volume.Header.FindScope(pending) is null ? null : pending, 0);
                }
#pragma warning disable CA1031 // A job that cannot resume is reported; the mount goes on.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _logger.LogError("Re-encryption of {Backing} could not resume: {Reason}", _volume.BackingDirectory, e.Message);
                }
            }
        }
    }

    public string BackingDirectory => _volume.BackingDirectory;

    public string MountPoint => _host.MountPoint;

    /// <summary>Whether a request naming <paramref name="volume"/> (backing directory or mount point) is for this volume.</summary>
    public bool Matches(string volume)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(volume));
        return full == Path.TrimEndingDirectorySeparator(BackingDirectory) || full == MountPoint;
    }

    /// <summary>Volume operations of the control protocol; null when <paramref name="op"/> is not one.</summary>
    public JsonObject? Handle(string op, JsonObject request)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return op switch
            {
                "status" => ControlAnswer.Ok(new JsonObject { ["volume"] = Status() }),
                "scope-disable" or "scope-enable" => SetScopeState(RequiredString(request, "scope"), op == "scope-enable"),
                "key-check" => ControlAnswer.Ok(new JsonObject { ["scopes"] = CheckKeys(updateKeyVersion: true) }),
                "key-rotate" => RotateKey(request),
                "scope-create" => CreateScope(request),
                "reencrypt" => StartReencryption(request["scope"]?.GetValue<string>(), request["bytesPerSecond"]?.GetValue<long>() ?? 0),
                "jobs" => ControlAnswer.Ok(new JsonObject { ["reencryption"] = _jobState.DeepClone() }),
                _ => null,
            };
        }
    }

    public JsonObject Status()
    {
        lock (_lock)
        {
            var scopes = new JsonArray();
            foreach (var scope in _volume.Header.Scopes)
            {
                var current = scope.FindKey(scope.CurrentGeneration);
                scopes.Add(new JsonObject
                {
                    ["name"] = scope.Name,
                    ["id"] = scope.Id,
                    ["state"] = scope.State,
                    ["access"] = _volume.ScopeAccess(scope.Id),
                    ["keySource"] = scope.KeySourceType,
                    ["kekId"] = current?.KekId,
                    ["kekVersion"] = current?.KekVersion,
                    ["dekGeneration"] = scope.CurrentGeneration,
                    ["dekGenerations"] = new JsonArray([.. scope.Keys.Select(k => (JsonNode)k.Generation)]),
                    ["infrastructureEncryption"] = scope.InfrastructureEncryption,
                });
            }

            return new JsonObject
            {
                ["backing"] = BackingDirectory,
                ["mountPoint"] = MountPoint,
                ["scopes"] = scopes,
                ["lastKeyCheck"] = _lastKeyCheckTime?.ToString("O"),
                ["lastKeyCheckResults"] = _lastKeyCheck.DeepClone(),
                ["reencryption"] = _jobState.DeepClone(),
            };
        }
    }

    /// <summary>Stops the key checks and any re-encryption (it resumes at the next mount) before the volume closes.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true; // before the timer goes: a check finishing now does not re-arm it
        }

        _keyCheckTimer.Dispose();
        _jobCancel.Cancel();
        try
        {
            // The job stops at the next chunk and rolls its file back; the volume must outlive it.
            _job?.Wait();
        }
        catch (AggregateException)
        {
        }

        _jobCancel.Dispose();
    }

    /// <summary>Starts re-encrypting old DEK generations in the background; progress through "jobs" and "status".</summary>
    private JsonObject StartReencryption(string? scope, long bytesPerSecond)
    {
        if (_job is { IsCompleted: false })
        {
            throw new InvalidOperationException("a re-encryption is already running on this volume");
        }

        if (scope is not null && _volume.Header.FindScope(scope) is null)
        {
            throw new ArgumentException($"no scope '{scope}' in this volume");
        }

        var state = new JsonObject { ["state"] = "running", ["scope"] = scope ?? "*", ["started"] = DateTime.UtcNow.ToString("O") };
        _jobState = state;
        var progress = new JobProgress(p => _jobState = Describe(state, p));
        _job = Task.Factory.StartNew(() => RunReencryption(state, scope, bytesPerSecond, progress), _jobCancel.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return ControlAnswer.Ok(new JsonObject { ["reencryption"] = state.DeepClone() });
    }

    private void RunReencryption(JsonObject state, string? scope, long bytesPerSecond, JobProgress progress)
    {
        try
        {
            _logger.LogInformation("Re-encryption of {Backing} started (scope {Scope})", BackingDirectory, scope ?? "all");
            var report = _volume.Reencrypt(scope, rekeyDirectories: false, bytesPerSecond, progress, _jobCancel.Token);
            var done = Describe(state, report.Progress);
            done["state"] = report.Problems.Count == 0 ? "done" : "incomplete";
            done["destroyed"] = new JsonArray([.. report.Destroyed.Select(d => (JsonNode)d)]);
            done["kept"] = new JsonArray([.. report.Kept.Select(k => (JsonNode)k)]);
            done["problems"] = new JsonArray([.. report.Problems.Select(p => (JsonNode)p)]);
            _jobState = done;
            _logger.LogInformation("Re-encryption of {Backing} {State}: {Files} file(s) rewritten, destroyed: {Destroyed}", BackingDirectory, done["state"], report.Progress.FilesRewritten, string.Join(", ", report.Destroyed));
        }
        catch (OperationCanceledException)
        {
            var stopped = _jobState.DeepClone().AsObject();
            stopped["state"] = "interrupted";
            _jobState = stopped;
            _logger.LogInformation("Re-encryption of {Backing} interrupted; it resumes at the next mount", BackingDirectory);
        }
#pragma warning disable CA1031 // The job's failure is reported through its state and the log; the volume keeps serving.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var failed = _jobState.DeepClone().AsObject();
            failed["state"] = "failed";
            failed["error"] = e.Message;
            _jobState = failed;
            _logger.LogError("Re-encryption of {Backing} failed: {Reason}", BackingDirectory, e.Message);
        }
    }

    private static JsonObject Describe(JsonObject state, ReencryptionProgress progress)
    {
        var copy = state.DeepClone().AsObject();
        copy["entriesScanned"] = progress.EntriesScanned;
        copy["filesRewritten"] = progress.FilesRewritten;
        copy["bytesRewritten"] = progress.BytesRewritten;
        copy["symlinksRewritten"] = progress.SymlinksRewritten;
        copy["directoriesRekeyed"] = progress.DirectoriesRekeyed;
        copy["problemCount"] = progress.Problems;
        return copy;
    }

    /// <summary>Progress reported on the job's own thread (Progress&lt;T&gt; would post it elsewhere, out of order).</summary>
    private sealed class JobProgress(Action<ReencryptionProgress> report) : IProgress<ReencryptionProgress>
    {
        public void Report(ReencryptionProgress value) => report(value);
    }

    private JsonObject SetScopeState(string scope, bool enabled)
    {
        _volume.SetScopeEnabled(scope, enabled);
        return ControlAnswer.Ok(new JsonObject { ["scope"] = scope, ["state"] = enabled ? "enabled" : "disabled" });
    }

    /// <summary>
    /// A new scope on the live volume. Its KEK is resolved here: by this process's own credentials
    /// (platform keystore, token PIN, cloud identity), or, for a passphrase or provided key, by the
    /// secret sent with the request (the socket only answers root and this process's user).
    /// </summary>
    private JsonObject CreateScope(JsonObject request)
    {
        var name = RequiredString(request, "name");
        var descriptor = request["keySource"] as JsonObject ?? throw new ArgumentException("the request needs 'keySource'");
        using var kek = NewKek(request, descriptor, name);
        var scope = _volume.CreateScope(name, (JsonObject)descriptor.DeepClone(), kek, request["infrastructureEncryption"]?.GetValue<bool>() == true);
        return ControlAnswer.Ok(new JsonObject { ["name"] = scope.Name, ["id"] = scope.Id, ["keySource"] = scope.KeySourceType });
    }

    /// <summary>
    /// DEK (newDek): a new generation for new files. KEK: a re-wrap under the new key source the
    /// request names, or else under the current version of the scope's own KEK.
    /// </summary>
    private JsonObject RotateKey(JsonObject request)
    {
        var name = request["scope"]?.GetValue<string>() ?? _volume.Header.DefaultScope;
        var scope = _volume.Header.FindScope(name) ?? throw new ArgumentException($"no scope '{name}' in this volume");
        var answer = new JsonObject { ["scope"] = scope.Name };
        if (request["newDek"]?.GetValue<bool>() == true)
        {
            using var current = _volume.OpenKek(scope.Id);
            answer["dekGeneration"] = _volume.RotateDek(scope.Id, current);
            return ControlAnswer.Ok(answer);
        }

        var descriptor = request["keySource"] as JsonObject ?? scope.KeySource;
        using var kek = request["keySource"] is JsonObject given ? NewKek(request, given, scope.Name) : _volume.OpenKek(scope.Id);
        _volume.RewrapScope(scope.Id, (JsonObject)descriptor.DeepClone(), kek);
        answer["kekId"] = kek.KeyId;
        answer["kekVersion"] = kek.KeyVersion;
        return ControlAnswer.Ok(answer);
    }

    /// <summary>
    /// The KEK of a key source a request names: by the secret sent with it (a passphrase or
    /// provided key; the socket only answers root and this process's user), or else by this
    /// process's own credentials (platform keystore, token PIN, cloud identity).
    /// </summary>
    private IKeyEncryptionKey NewKek(JsonObject request, JsonObject descriptor, string scopeName)
    {
        using var secret = request["passphrase"]?.GetValue<string>() is { } passphrase
            ? new CredentialKeySource(SecretKey.Copy(System.Text.Encoding.UTF8.GetBytes(passphrase)), null, null)
            : request["providedKey"]?.GetValue<string>() is { } hex
                ? new CredentialKeySource((SecretKey?)null, SecretKey.Copy(Convert.FromHexString(hex)), null)
                : null;
        var probe = new Core.Format.ScopeRecord { Id = "00000000000000000000000000000000", Name = scopeName, KeySource = descriptor };
        return secret?.GetKek(probe) ?? _volume.OpenKekFor(descriptor, scopeName);
    }

    private JsonArray CheckKeys(bool updateKeyVersion)
    {
        var results = new JsonArray();
        foreach (var result in _volume.CheckKeys(updateKeyVersion))
        {
            results.Add(new JsonObject { ["scope"] = result.Scope, ["outcome"] = result.Outcome.ToString().ToLowerInvariant(), ["detail"] = result.Detail });
        }

        if (updateKeyVersion)
        {
            _lastVersionCheck = DateTime.UtcNow;
        }

        _lastKeyCheck = results;
        _lastKeyCheckTime = DateTime.UtcNow;
        return results;
    }

    private void ScheduledKeyCheck()
    {
        try
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    CheckKeys(updateKeyVersion: DateTime.UtcNow - _lastVersionCheck >= _schedule.KeyVersionInterval);
                }
            }
        }
#pragma warning disable CA1031 // A failed check is logged and tried again at the next tick; the volume keeps serving.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.LogError("Key check of {Backing} failed: {Reason}", BackingDirectory, e.Message);
        }
        finally
        {
            lock (_lock)
            {
                if (!_disposed)
                {
                    _keyCheckTimer.Change(_schedule.RevocationInterval, Timeout.InfiniteTimeSpan);
                }
            }
        }
    }

    private static string RequiredString(JsonObject request, string key) =>
        request[key]?.GetValue<string>() ?? throw new ArgumentException($"the request needs '{key}'");
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace EncFs.Service;

/// <summary>The service's configuration file: the volumes it keeps mounted.</summary>
public sealed class ServiceConfig
{
    public List<VolumeConfig> Volumes { get; set; } = [];

    /// <summary>First retry delay after a volume fails, doubled up to <see cref="MaxRetrySeconds"/>.</summary>
    public double RetrySeconds { get; set; } = 2;

    public double MaxRetrySeconds { get; set; } = 60;

    public string? AuditLog { get; set; }

    /// <summary>The Unix-domain socket `efs service status|mount|unmount` and live scope and key commands talk to.</summary>
    public string ControlSocket { get; set; } = Control.ControlClient.ServiceSocket;

    /// <summary>Seconds between checks that each scope's KEK is still granted at its source.</summary>
    public double KeyCheckSeconds { get; set; } = Control.KeyCheckSchedule.Default.RevocationInterval.TotalSeconds;

    /// <summary>Hours between checks for a newer KEK version at the source (adopted by re-wrapping).</summary>
    public double KeyVersionCheckHours { get; set; } = Control.KeyCheckSchedule.Default.KeyVersionInterval.TotalHours;

    /// <summary>Seconds a key source may take to give a scope's key; a slower one leaves that scope locked.</summary>
    public double KeySourceTimeoutSeconds { get; set; } = Core.Keys.KeySourceCall.DefaultTimeout.TotalSeconds;

    public Control.KeyCheckSchedule KeyCheckPlan() => new(TimeSpan.FromSeconds(KeyCheckSeconds), TimeSpan.FromHours(KeyVersionCheckHours));

    /// <summary>Reads and checks a config file; every problem names the offending key and value.</summary>
    public static ServiceConfig Load(string path)
    {
        ServiceConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllBytes(path), ServiceConfigJson.Default.ServiceConfig);
        }
        catch (JsonException e)
        {
            throw new ServiceConfigException($"{path}: not valid JSON at {e.Path ?? "$"} (line {e.LineNumber + 1}): {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceConfigException($"{path}: cannot be read: {e.Message}", e);
        }

        if (config is null)
        {
            throw new ServiceConfigException($"{path}: the configuration is null");
        }

        var problems = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var mountPoints = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Volumes.Count; i++)
        {
            var volume = config.Volumes[i];
            var at = $"volumes[{i}]";
            if (string.IsNullOrWhiteSpace(volume.Name) || !names.Add(volume.Name))
            {
                problems.Add($"{at}.name = '{volume.Name}': missing or used twice");
            }

            if (string.IsNullOrWhiteSpace(volume.Backing) || !Path.IsPathRooted(volume.Backing))
            {
                problems.Add($"{at}.backing = '{volume.Backing}': an absolute path is required");
            }

            if (string.IsNullOrWhiteSpace(volume.MountPoint) || !Path.IsPathRooted(volume.MountPoint))
            {
                problems.Add($"{at}.mountPoint = '{volume.MountPoint}': an absolute path is required");
            }
            else if (!mountPoints.Add(Path.TrimEndingDirectorySeparator(volume.MountPoint)))
            {
                problems.Add($"{at}.mountPoint = '{volume.MountPoint}': used by another volume");
            }

            foreach (var (key, file) in new[] { ("keyFile", volume.KeyFile), ("passphraseFile", volume.PassphraseFile), ("pinFile", volume.PinFile) })
            {
                if (file is not null && !File.Exists(file))
                {
                    problems.Add($"{at}.{key} = '{file}': no such file");
                }
            }
        }

        if (config.RetrySeconds <= 0 || config.MaxRetrySeconds < config.RetrySeconds)
        {
            problems.Add($"retrySeconds = {config.RetrySeconds}, maxRetrySeconds = {config.MaxRetrySeconds}: need 0 < retrySeconds <= maxRetrySeconds");
        }

        if (string.IsNullOrWhiteSpace(config.ControlSocket) || !Path.IsPathRooted(config.ControlSocket))
        {
            problems.Add($"controlSocket = '{config.ControlSocket}': an absolute path is required");
        }

        if (config.KeySourceTimeoutSeconds <= 0)
        {
            problems.Add($"keySourceTimeoutSeconds = {config.KeySourceTimeoutSeconds}: must be positive");
        }

        if (config.KeyCheckSeconds < 1 || config.KeyVersionCheckHours <= 0)
        {
            problems.Add($"keyCheckSeconds = {config.KeyCheckSeconds}, keyVersionCheckHours = {config.KeyVersionCheckHours}: need keyCheckSeconds >= 1 and keyVersionCheckHours > 0");
        }

        if (problems.Count > 0)
        {
            throw new ServiceConfigException($"{path}: " + string.Join("; ", problems));
        }

        return config;
    }
}

/// <summary>One volume the service mounts, and where its credentials come from.</summary>
public sealed class VolumeConfig
{
    public string Name { get; set; } = string.Empty;

    public string Backing { get; set; } = string.Empty;

    public string MountPoint { get; set; } = string.Empty;

    public string? KeyFile { get; set; }

    public string? PassphraseFile { get; set; }

    public string? PinFile { get; set; }

    public string? Keystore { get; set; }

    public bool AllowOther { get; set; }
}

/// <summary>The configuration is unusable; the message names the key and value at fault.</summary>
public sealed class ServiceConfigException : Exception
{
    public ServiceConfigException()
    {
    }

    public ServiceConfigException(string message)
        : base(message)
    {
    }

    public ServiceConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ServiceConfig))]
internal sealed partial class ServiceConfigJson : JsonSerializerContext;

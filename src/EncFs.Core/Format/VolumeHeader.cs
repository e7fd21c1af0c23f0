using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace EncFs.Core.Format;

/// <summary>The volume header (docs/FORMAT.md section 2): the scopes and their wrapped keys.</summary>
public sealed class VolumeHeader
{
    public const string FormatName = "efs-volume";
    public const int CurrentVersion = 1;

    public string Format { get; set; } = FormatName;

    public int Version { get; set; } = CurrentVersion;

    public long Revision { get; set; }

    public string VolumeId { get; set; } = string.Empty;

    public int SectorSize { get; set; }

    public string DefaultScope { get; set; } = string.Empty;

    public List<ScopeRecord> Scopes { get; set; } = [];

    public ScopeRecord? FindScope(string idOrName) =>
        Scopes.Find(s => s.Id == idOrName) ?? Scopes.Find(s => s.Name == idOrName);

    public ScopeRecord GetDefaultScope() =>
        FindScope(DefaultScope) ?? throw new InvalidDataException($"the volume header names default scope {DefaultScope}, which it does not contain");
}

/// <summary>An encryption scope: a partition of the volume with its own DEK, never deleted.</summary>
public sealed class ScopeRecord
{
    public const string Enabled = "enabled", Disabled = "disabled";

    public string Id { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string State { get; set; } = Enabled;

    public bool InfrastructureEncryption { get; set; }

    /// <summary>Describes the KEK's source; only the key source provider interprets it.</summary>
    public JsonObject KeySource { get; set; } = [];

    public int CurrentGeneration { get; set; } = 1;

    public List<WrappedKeyRecord> Keys { get; set; } = [];

    [JsonIgnore]
    public string KeySourceType => KeySource["type"]?.GetValue<string>() ?? "unknown";

    [JsonIgnore]
    public bool IsEnabled => State == Enabled;

    public WrappedKeyRecord? FindKey(int generation) => Keys.Find(k => k.Generation == generation);
}

/// <summary>One DEK generation of a scope, wrapped by the scope's KEK.</summary>
public sealed class WrappedKeyRecord
{
    public int Generation { get; set; }

    public string KekId { get; set; } = string.Empty;

    public string KekVersion { get; set; } = string.Empty;

    public string Wrapped { get; set; } = string.Empty;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(VolumeHeader))]
internal sealed partial class VolumeHeaderJson : JsonSerializerContext;

using System.Globalization;
using System.Text.Json.Nodes;

namespace EncFs.Core.Audit;

/// <summary>One audited key or policy event. Never carries key material.</summary>
public sealed record AuditEvent(
    string Action,
    string Result,
    string? Scope = null,
    string? KeyId = null,
    string? KeyVersion = null,
    int? Generation = null,
    string? Detail = null);

/// <summary>Where audit events go.</summary>
public interface IAuditLog
{
    void Write(AuditEvent auditEvent);
}

/// <summary>Discards events (no audit log configured).</summary>
public sealed class NullAuditLog : IAuditLog
{
    public static NullAuditLog Instance { get; } = new();

    public void Write(AuditEvent auditEvent)
    {
    }
}

/// <summary>
/// Appends one JSON object per line: time (UTC, ISO 8601), actor uid, action, scope, key id and
/// version, DEK generation, result, detail. Each line is written with one append, so
/// concurrent writers do not interleave within a line.
/// </summary>
public sealed class JsonLinesAuditLog : IAuditLog
{
    private readonly string _path;
    private readonly Lock _lock = new();

    public JsonLinesAuditLog(string path)
    {
        _path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
    }

    public void Write(AuditEvent auditEvent)
    {
        var line = new JsonObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["uid"] = Backing.BackingFs.EffectiveUid,
            ["action"] = auditEvent.Action,
            ["scope"] = auditEvent.Scope,
            ["keyId"] = auditEvent.KeyId,
            ["keyVersion"] = auditEvent.KeyVersion,
            ["generation"] = auditEvent.Generation,
            ["result"] = auditEvent.Result,
            ["detail"] = auditEvent.Detail,
        }.ToJsonString() + "\n";
        lock (_lock)
        {
            File.AppendAllText(_path, line);
        }
    }
}

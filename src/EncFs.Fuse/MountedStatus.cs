using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Core.Volume;

namespace EncFs.Fuse;

/// <summary>
/// "Check the encryption status" of a path inside a mount: the daemon answers a reserved
/// extended attribute with the entry's status as JSON, so no key or backing path is needed.
/// </summary>
public static partial class MountedStatus
{
    public const string AttributeName = "user.efs.status";

    public static JsonObject ToJson(EncryptionStatus status) => new()
    {
        ["kind"] = status.Kind,
        ["path"] = status.Path,
        ["encrypted"] = true,
        ["scope"] = status.ScopeName,
        ["scopeId"] = status.ScopeId,
        ["scopeState"] = status.ScopeState,
        ["keySource"] = status.KeySource,
        ["kekId"] = status.KekId,
        ["kekVersion"] = status.KekVersion,
        ["dekGeneration"] = status.DekGeneration,
        ["dataCipher"] = status.DataCipher,
        ["sectorSize"] = status.SectorSize,
        ["infrastructureEncryption"] = status.InfrastructureEncryption,
        ["infrastructureCipher"] = status.InfrastructureCipher,
    };

    /// <summary>Asks the daemon serving <paramref name="path"/>; null when the path is not in an efs mount.</summary>
    public static unsafe JsonObject? Query(string path)
    {
        var buffer = new byte[8192];
        fixed (byte* p = buffer)
        {
            nint n = Lgetxattr(path, AttributeName, p, buffer.Length);
            if (n < 0)
            {
                return null;
            }

            return JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, (int)n)) as JsonObject;
        }
    }

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint Lgetxattr(string path, string name, byte* value, nint size);
}

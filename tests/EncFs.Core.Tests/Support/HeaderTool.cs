using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Support;

/// <summary>Edits efs.volume the way an attacker (or a newer efs) would: body, checksum line, HMAC line.</summary>
public static class HeaderTool
{
    private const string ChecksumPrefix = "\n#sha256:";
    private const string HmacPrefix = "\n#hmac-sha256:";

    /// <summary>The HMAC key of the header (docs/FORMAT.md section 2), from the default scope's current DEK.</summary>
    public static byte[] HeaderKey(EncryptedVolume volume)
    {
        // The volume owns the ScopeKeys; only the derived key is ours to dispose.
        using var key = volume.GetScopeKeys(volume.Header.DefaultScope).VolumeHeaderKey();
        return key.Span.ToArray();
    }

    public static (byte[] Body, string Checksum, string Hmac) Split(byte[] content)
    {
        var text = Encoding.UTF8.GetString(content);
        int sumAt = text.LastIndexOf(ChecksumPrefix, StringComparison.Ordinal);
        int hmacAt = text.LastIndexOf(HmacPrefix, StringComparison.Ordinal);
        Assert.True(sumAt > 0 && hmacAt > sumAt, "efs.volume has the documented trailer");
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        var body = content[..Encoding.UTF8.GetByteCount(text[..sumAt])];
        var checksum = text[(sumAt + ChecksumPrefix.Length)..hmacAt];
        var hmac = text[(hmacAt + HmacPrefix.Length)..].TrimEnd('\n');
        return (body, checksum, hmac);
    }

    public static JsonObject Body(string path) =>
        JsonNode.Parse(Split(File.ReadAllBytes(path)).Body)!.AsObject();

    /// <summary>
    /// Rewrites the body of a header copy and recomputes its SHA-256 line; the HMAC line is
    /// recomputed with <paramref name="hmacKey"/>, or left as it was when that is null.
    /// </summary>
    public static void Rewrite(string path, Action<JsonObject> edit, byte[]? hmacKey)
    {
        var (_, _, oldHmac) = Split(File.ReadAllBytes(path));
        var body = Body(path);
        edit(body);
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var hmac = hmacKey is null ? oldHmac : Convert.ToHexStringLower(HMACSHA256.HashData(hmacKey, bytes));
        var trailer = $"{ChecksumPrefix}{Convert.ToHexStringLower(SHA256.HashData(bytes))}{HmacPrefix}{hmac}\n";
        File.WriteAllBytes(path, [.. bytes, .. Encoding.ASCII.GetBytes(trailer)]);
    }
}

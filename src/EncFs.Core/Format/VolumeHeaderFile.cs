using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EncFs.Core.Backing;

namespace EncFs.Core.Format;

/// <summary>
/// Reads and writes efs.volume and its backup: checksummed, authenticated, replaced atomically.
/// </summary>
public static class VolumeHeaderFile
{
    public const string PrimaryName = "efs.volume";
    public const string BackupName = "efs.volume.bak";
    private const string ChecksumPrefix = "\n#sha256:";
    private const string HmacPrefix = "\n#hmac-sha256:";

    /// <summary>A header copy whose checksum holds; its HMAC is checked once the key is known.</summary>
    public sealed record Candidate(string Path, VolumeHeader Header, byte[] Body, byte[] Hmac)
    {
        public bool Authenticates(ReadOnlySpan<byte> hmacKey) =>
            CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(hmacKey, Body), Hmac);
    }

    /// <summary>
    /// The readable copies, best first (higher revision, then the primary). Each unreadable copy
    /// is described in <paramref name="problems"/>.
    /// </summary>
    public static List<Candidate> ReadCandidates(string backingDir, List<string> problems)
    {
        var candidates = new List<Candidate>();
        foreach (var name in new[] { PrimaryName, BackupName })
        {
            var path = Path.Combine(backingDir, name);
            try
            {
                candidates.Add(Parse(path, File.ReadAllBytes(path)));
            }
            catch (FileNotFoundException)
            {
                problems.Add($"{path}: missing");
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                problems.Add($"{path}: {e.Message}");
            }
        }

        return [.. candidates.OrderByDescending(c => c.Header.Revision)];
    }

    /// <summary>Writes both copies with the next revision, each atomically.</summary>
    public static void Write(string backingDir, VolumeHeader header, ReadOnlySpan<byte> hmacKey)
    {
        header.Revision++;
        var body = JsonSerializer.SerializeToUtf8Bytes(header, VolumeHeaderJson.Default.VolumeHeader);
        var trailer = $"{ChecksumPrefix}{Convert.ToHexStringLower(SHA256.HashData(body))}{HmacPrefix}{Convert.ToHexStringLower(HMACSHA256.HashData(hmacKey, body))}\n";
        var content = new byte[body.Length + trailer.Length];
        body.CopyTo(content, 0);
        Encoding.ASCII.GetBytes(trailer, content.AsSpan(body.Length));
        AtomicFile.Write(Path.Combine(backingDir, PrimaryName), content);
        AtomicFile.Write(Path.Combine(backingDir, BackupName), content);
    }

    public static bool Exists(string backingDir) =>
        File.Exists(Path.Combine(backingDir, PrimaryName)) || File.Exists(Path.Combine(backingDir, BackupName));

    private static Candidate Parse(string path, byte[] content)
    {
        var text = content.AsSpan();
        int hmacAt = text.LastIndexOf(Encoding.ASCII.GetBytes(HmacPrefix));
        int sumAt = hmacAt < 0 ? -1 : text[..hmacAt].LastIndexOf(Encoding.ASCII.GetBytes(ChecksumPrefix));
        if (sumAt < 0)
        {
            throw new InvalidDataException("not an EncFs volume header (no checksum trailer); the file is damaged or not ours");
        }

        var body = text[..sumAt].ToArray();
        var checksum = ParseHex(text[(sumAt + ChecksumPrefix.Length)..hmacAt], 32, "checksum");
        var hmac = ParseHex(text[(hmacAt + HmacPrefix.Length)..].TrimEnd((byte)'\n'), 32, "HMAC");
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(body), checksum))
        {
            throw new InvalidDataException("checksum mismatch: the header is damaged");
        }

        VolumeHeader? header;
        try
        {
            header = JsonSerializer.Deserialize(body, VolumeHeaderJson.Default.VolumeHeader);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the header is not valid JSON: {e.Message}", e);
        }

        if (header is null || header.Format != VolumeHeader.FormatName)
        {
            throw new InvalidDataException($"not an EncFs volume header (format '{header?.Format}')");
        }

        if (header.Version > VolumeHeader.CurrentVersion)
        {
            throw new UnsupportedFormatException(path, header.Version);
        }

        if (header.Version < 1 || !SectorLayout.IsValidSectorSize(header.SectorSize))
        {
            throw new InvalidDataException($"invalid header (version {header.Version}, sector size {header.SectorSize})");
        }

        return new Candidate(path, header, body, hmac);
    }

    private static byte[] ParseHex(ReadOnlySpan<byte> ascii, int length, string what)
    {
        try
        {
            var bytes = Convert.FromHexString(Encoding.ASCII.GetString(ascii));
            if (bytes.Length == length)
            {
                return bytes;
            }
        }
        catch (FormatException)
        {
        }

        throw new InvalidDataException($"the header's {what} line is damaged");
    }
}

/// <summary>The volume was written by a newer EncFs whose format this one does not know.</summary>
public sealed class UnsupportedFormatException : Exception
{
    public UnsupportedFormatException(string path, int version)
        : base($"{path}: volume format version {version} is newer than this efs supports ({VolumeHeader.CurrentVersion}); upgrade efs to open it")
    {
        Version = version;
    }

    public UnsupportedFormatException()
    {
    }

    public UnsupportedFormatException(string message)
        : base(message)
    {
    }

    public UnsupportedFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public int Version { get; }
}

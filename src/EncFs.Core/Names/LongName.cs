using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace EncFs.Core.Names;

/// <summary>
/// Encrypted names longer than the backing filesystem allows are stored under a hash, with the
/// full name in a sidecar file (docs/FORMAT.md section 6.2).
/// </summary>
public static class LongName
{
    public const int MaxBackingName = 255;
    public const char Marker = '~';
    public const string SidecarSuffix = ".name";

    public static bool NeedsHashing(string encryptedName) => encryptedName.Length > MaxBackingName;

    public static string Hashed(string encryptedName) =>
        Marker + Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(encryptedName)));

    public static string Sidecar(string hashedName) => hashedName + SidecarSuffix;

    public static bool IsHashed(string backingName) => backingName.Length > 0 && backingName[0] == Marker;

    public static bool IsSidecar(string backingName) => IsHashed(backingName) && backingName.EndsWith(SidecarSuffix, StringComparison.Ordinal);

    /// <summary>The full encrypted name read from a sidecar is only trusted when it hashes to the entry's name.</summary>
    public static bool Matches(string hashedName, string encryptedName) =>
        string.Equals(Hashed(encryptedName), hashedName, StringComparison.Ordinal);
}

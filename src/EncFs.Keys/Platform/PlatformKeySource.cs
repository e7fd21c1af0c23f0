using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Local;

namespace EncFs.Keys.Platform;

/// <summary>
/// The platform key source (the default, like a platform-managed key): a random KEK generated
/// at creation and kept in a keystore directory of this machine, outside the backing
/// directory, readable by its owner only. A disk removed without the machine's system disk
/// carries no usable key. Deleting the key file revokes the scope for good (crypto-erase).
/// </summary>
public static class PlatformKeySource
{
    public const string Type = "platform";
    public const string DefaultKeystore = "/var/lib/efs/keystore";
    private const string KeystoreVariable = "EFS_KEYSTORE";
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// The keystore directory: --keystore, else $EFS_KEYSTORE, else /var/lib/efs/keystore for
    /// root and $XDG_DATA_HOME/efs/keystore (~/.local/share/efs/keystore) for other users.
    /// </summary>
    public static string ResolveKeystore(string? requested) =>
        Path.GetFullPath(requested ?? Environment.GetEnvironmentVariable(KeystoreVariable) ?? UserDefault());

    private static string UserDefault()
    {
        if (Environment.UserName == "root" || !OperatingSystem.IsLinux())
        {
            return DefaultKeystore;
        }

        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return Path.Combine(string.IsNullOrEmpty(data) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share") : data, "efs", "keystore");
    }

    /// <summary>Generates a KEK, stores it in the keystore and describes where it is.</summary>
    public static (JsonObject Descriptor, LocalKek Kek) Create(string keystore, string backingDir)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the platform key source is not available on Windows yet");
        }

        var full = Path.GetFullPath(keystore);
        if (IsInside(full, Path.GetFullPath(backingDir)))
        {
            throw new ArgumentException($"the keystore '{full}' lies inside the backing directory: the key would travel with the data");
        }

        Directory.CreateDirectory(full, OwnerOnlyDirectory);
        RequireOwnerOnly(full);
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var path = Path.Combine(full, keyId + ".kek");
        var key = SecretKey.Generate(32);
        using (var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile }))
        {
            stream.Write(key.Span);
            stream.Flush(flushToDisk: true);
        }

        var descriptor = new JsonObject { ["type"] = Type, ["keystore"] = full, ["keyId"] = keyId };
        return (descriptor, new LocalKek(key, Type, keyId));
    }

    /// <summary>Reads the scope's KEK from the keystore named in its descriptor.</summary>
    public static LocalKek Open(JsonObject descriptor, string? keystoreOverride)
    {
        var keyId = descriptor["keyId"]?.GetValue<string>() ?? throw new InvalidDataException("the platform key source in the volume header has no keyId");
        if (keyId.Length != 32 || !keyId.All(Uri.IsHexDigit))
        {
            throw new InvalidDataException("the platform key source in the volume header names an invalid keyId");
        }

        var keystore = keystoreOverride ?? descriptor["keystore"]?.GetValue<string>() ?? DefaultKeystore;
        var path = Path.Combine(keystore, keyId + ".kek");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new KeyAccessException($"platform key {keyId} is not in the keystore '{keystore}' (deleted, revoked, or this is another machine)", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new KeyAccessException($"the keystore '{keystore}' does not exist on this machine", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KeyAccessException($"platform key {keyId}: permission denied reading '{path}' (the keystore is owner-only; run as its owner)", e);
        }

        try
        {
            if (bytes.Length != 32)
            {
                throw new KeyAccessException($"platform key file '{path}' is damaged ({bytes.Length} bytes, expected 32)");
            }

            return new LocalKek(SecretKey.Copy(bytes), Type, keyId);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>Deletes the scope's KEK from the keystore: what it wrapped can never be unwrapped again.</summary>
    public static void Destroy(JsonObject descriptor, string? keystoreOverride)
    {
        var keyId = descriptor["keyId"]?.GetValue<string>() ?? throw new InvalidDataException("no keyId");
        var keystore = keystoreOverride ?? descriptor["keystore"]?.GetValue<string>() ?? DefaultKeystore;
        var path = Path.Combine(keystore, keyId + ".kek");
        if (File.Exists(path))
        {
            // Overwrite before unlinking; on flash or copy-on-write media this is best effort.
            File.WriteAllBytes(path, new byte[32]);
            File.Delete(path);
        }
    }

    private static void RequireOwnerOnly(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute)) != 0)
        {
            throw new UnauthorizedAccessException($"the keystore '{directory}' is accessible to others ({mode}); chmod 700 it");
        }
    }

    private static bool IsInside(string path, string directory) =>
        path == directory || path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);
}

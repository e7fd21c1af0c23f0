using EncFs.Core.Backing;
using EncFs.Core.Names;

namespace EncFs.Core.Volume;

/// <summary>Extended attributes, stored encrypted as user.efs.* attributes of the backing entry.</summary>
public sealed partial class EncryptedVolume
{
    private const string BackingXattrPrefix = "user.efs.";
    private const int MaxBackingXattrName = 255;

    /// <summary>Attribute calls share it; a file's re-encryption takes it alone while its keys change.</summary>
    private readonly ReaderWriterLockSlim _xattrLock = new(LockRecursionPolicy.NoRecursion);

    public byte[]? GetXattr(string path, string name)
    {
        // The kernel asks for security.capability before every write: answer "none" from one
        // listxattr when the entry carries no attribute of ours, without keys or the lock (a
        // re-encryption adds the new attributes before it removes the old ones).
        if (!Map(path, () => BackingFs.HasXattrWithPrefix(BackingPathOf(path), BackingXattrPrefix)))
        {
            return null;
        }

        _xattrLock.EnterReadLock();
        try
        {
            var (backing, names) = XattrTarget(path);
            if (names is null)
            {
                return null; // symlinks and special files carry none, as on Linux for user.*
            }

            var encrypted = EncryptXattrName(names, name);
            var stored = Map(path, () => BackingFs.GetXattr(backing, BackingXattrPrefix + encrypted));
            if (stored is null)
            {
                return null;
            }

            return names.TryOpenXattrValue(encrypted, stored)
                ?? throw new FsException(Errno.EIO, $"'{path}': extended attribute '{name}' failed authentication (tampered)");
        }
        finally
        {
            _xattrLock.ExitReadLock();
        }
    }

    public void SetXattr(string path, string name, ReadOnlySpan<byte> value, XattrMode mode = XattrMode.CreateOrReplace)
    {
        _xattrLock.EnterReadLock();
        try
        {
            RequireWritable();
            var (backing, names) = XattrTarget(path);
            if (names is null)
            {
                throw new FsException(Errno.EPERM, $"'{path}': extended attributes are supported on files and directories only");
            }

            var encrypted = EncryptXattrName(names, name);
            var sealedValue = names.SealXattrValue(encrypted, value);
            Map(path, () =>
            {
                BackingFs.SetXattr(backing, BackingXattrPrefix + encrypted, sealedValue, (int)mode);
                return 0;
            });
        }
        finally
        {
            _xattrLock.ExitReadLock();
        }
    }

    public IReadOnlyList<string> ListXattrs(string path)
    {
        _xattrLock.EnterReadLock();
        try
        {
            var (backing, names) = XattrTarget(path);
            var result = new List<string>();
            if (names is null)
            {
                return result;
            }

            foreach (var stored in Map(path, () => BackingFs.ListXattr(backing)))
            {
                if (stored.StartsWith(BackingXattrPrefix, StringComparison.Ordinal)
                    && names.TryDecryptXattrName(stored[BackingXattrPrefix.Length..]) is { } name)
                {
                    result.Add(name);
                }
            }

            return result;
        }
        finally
        {
            _xattrLock.ExitReadLock();
        }
    }

    public void RemoveXattr(string path, string name)
    {
        _xattrLock.EnterReadLock();
        try
        {
            RequireWritable();
            var (backing, names) = XattrTarget(path);
            if (names is null)
            {
                throw new FsException(Errno.ENODATA, $"'{path}' has no extended attribute '{name}'");
            }

            var encrypted = EncryptXattrName(names, name);
            Map(path, () =>
            {
                BackingFs.RemoveXattr(backing, BackingXattrPrefix + encrypted);
                return 0;
            });
        }
        finally
        {
            _xattrLock.ExitReadLock();
        }
    }

    /// <summary>The backing entry and the name cipher of the scope that owns it (null for symlinks and special files).</summary>
    private (string Backing, NameCipher? Names) XattrTarget(string path)
    {
        var backing = BackingPathOf(path);
        var status = StatEntry(backing, path);
        if (status.IsDirectory)
        {
            var record = LoadDirectory(backing, path);
            return (backing, _keyring.Get(record.ScopeId, record.Generation).Names);
        }

        if (status.IsRegular)
        {
            var header = ReadFileHeader(backing, path);
            return (backing, _keyring.Get(header.ScopeId, header.Generation).Names);
        }

        return (backing, null);
    }

    private static string EncryptXattrName(NameCipher names, string name)
    {
        if (name.Length == 0)
        {
            throw new FsException(Errno.EINVAL, "empty extended attribute name");
        }

        var encrypted = names.EncryptXattrName(name);
        if (BackingXattrPrefix.Length + encrypted.Length > MaxBackingXattrName)
        {
            throw new FsException(Errno.ERANGE, $"extended attribute name '{name}' is too long once encrypted");
        }

        return encrypted;
    }

    private static T Map<T>(string path, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (FsException e)
        {
            throw new FsException(e.Errno, $"'{path}': {FsException.Describe(e.Errno)}", e);
        }
    }
}

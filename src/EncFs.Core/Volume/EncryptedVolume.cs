using System.Collections.Concurrent;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EncFs.Core.Volume;

/// <summary>
/// An open encrypted volume: the host-neutral filesystem API over a backing directory. Paths are
/// plaintext, absolute and '/'-separated. Errors are <see cref="FsException"/>s carrying an errno.
/// Thread-safe.
/// </summary>
public sealed partial class EncryptedVolume : IDisposable
{
    public const string TreeDirectory = "root";
    private readonly Keyring _keyring;
    private readonly VolumeLock? _lock;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, DirectoryRecord> _directories = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, FileNode> _nodes = [];
    private readonly Lock _nodesLock = new();

    /// <summary>Held across every change of the header (scopes, keys) and its save: one writer at a time.</summary>
    private readonly Lock _headerLock = new();
    private readonly DirectoryRecordSync _recordSync = new();
    private readonly NameCache _names = new();
    private readonly SizeCache _sizes = new();
    private int _disposed;
    private IKeySource _keySource = null!;
    private TimeSpan _keySourceTimeout = KeySourceCall.DefaultTimeout;

    private EncryptedVolume(string backingDir, Keyring keyring, VolumeLock? volumeLock, bool readOnly, ILogger logger)
    {
        BackingDirectory = backingDir;
        TreeRoot = Path.Combine(backingDir, TreeDirectory);
        _keyring = keyring;
        _lock = volumeLock;
        ReadOnly = readOnly;
        _logger = logger;
    }

    public string BackingDirectory { get; }

    /// <summary>Where key and policy events of this volume are recorded.</summary>
    public Audit.IAuditLog AuditLog { get; private init; } = Audit.NullAuditLog.Instance;

    public bool ReadOnly { get; }

    public VolumeHeader Header => _keyring.Header;

    internal string TreeRoot { get; }

    private SectorLayout LayoutFor(ScopeRecord scope) => new(Header.SectorSize, scope.InfrastructureEncryption);

    /// <summary>
    /// Makes a new volume in <paramref name="backingDir"/> (missing or empty) whose default
    /// scope's DEK is wrapped by <paramref name="kek"/>.
    /// </summary>
    public static void Create(string backingDir, VolumeCreateOptions options, System.Text.Json.Nodes.JsonObject keySource, IKeyEncryptionKey kek)
    {
        if (!SectorLayout.IsValidSectorSize(options.SectorSize))
        {
            throw new ArgumentException($"sector size {options.SectorSize} is not a power of two from {SectorLayout.MinSectorSize} to {SectorLayout.MaxSectorSize}", nameof(options));
        }

        if (VolumeHeaderFile.Exists(backingDir))
        {
            throw new FsException(Errno.EEXIST, $"'{backingDir}' already holds an EncFs volume; nothing was changed");
        }

        if (Directory.Exists(backingDir) && Directory.EnumerateFileSystemEntries(backingDir).Any())
        {
            throw new FsException(Errno.ENOTEMPTY, $"'{backingDir}' is not empty; a new volume needs an empty or missing directory (use 'efs import' for existing data)");
        }

        Directory.CreateDirectory(backingDir);
        var scope = new ScopeRecord
        {
            Id = Guid128.NewRandom().ToString(),
            Name = options.DefaultScopeName,
            InfrastructureEncryption = options.InfrastructureEncryption,
            KeySource = keySource,
        };
        var header = new VolumeHeader
        {
            VolumeId = Guid128.NewRandom().ToString(),
            SectorSize = options.SectorSize,
            DefaultScope = scope.Id,
            Scopes = [scope],
        };
        using var keys = ScopeKeyWrapping.CreateGeneration(header, scope, 1, kek);
        using (var volumeLock = VolumeLock.Acquire(backingDir))
        {
            var root = Path.Combine(backingDir, TreeDirectory);
            BackingFs.Mkdir(root, 0x1ED /* 0755 */);
            using (var record = WriteDirectoryRecord(root, new DirectoryRecord(Guid128.NewRandom(), keys.ScopeId, keys.Generation, DenyOverride: false), keys))
            {
                BackingFs.Fsync(record);
            }

            using var headerKey = keys.VolumeHeaderKey();
            VolumeHeaderFile.Write(backingDir, header, headerKey.Span);
        }
    }

    /// <summary>
    /// Opens a volume: reads the header (falling back to its backup), unlocks the default scope
    /// (required) and every other scope it can, and locks the volume unless read-only.
    /// </summary>
    public static EncryptedVolume Open(string backingDir, IKeySource keySource, VolumeOpenOptions? options = null)
    {
        options ??= new VolumeOpenOptions();
        var logger = options.Logger ?? NullLogger.Instance;
        if (!Directory.Exists(backingDir))
        {
            throw new FsException(Errno.ENOENT, $"'{backingDir}' does not exist");
        }

        if (!VolumeHeaderFile.Exists(backingDir))
        {
            throw new FsException(Errno.EINVAL, $"'{backingDir}' is not an EncFs volume (no {VolumeHeaderFile.PrimaryName}); create one with 'efs init'");
        }

        var volumeLock = options.ReadOnly ? null : VolumeLock.Acquire(backingDir);
        try
        {
            var audit = options.Audit ?? Audit.NullAuditLog.Instance;
            var (keyring, repairNeeded) = VolumeUnlocker.Unlock(backingDir, keySource, options.KeySourceTimeout, logger, audit);
            var volume = new EncryptedVolume(backingDir, keyring, volumeLock, options.ReadOnly, logger) { AuditLog = audit, _keySource = keySource, _keySourceTimeout = options.KeySourceTimeout };
            if (!options.ReadOnly)
            {
                ReencryptionUndo.RecoverAfterCrash(backingDir, logger);
                volume.RecoverDirectoryRekey();
            }
            else if (File.Exists(Path.Combine(backingDir, ReencryptionUndo.FileName)))
            {
                logger.LogWarning("A re-encryption was interrupted in {Backing}; one file reads wrong until the volume is opened read-write (which rolls it back)", backingDir);
            }

            if (repairNeeded && !options.ReadOnly)
            {
                logger.LogWarning("Volume header copy was damaged or stale; rewriting both copies in {Backing}", backingDir);
                volume.SaveHeader();
            }

            return volume;
        }
        catch
        {
            volumeLock?.Dispose();
            throw;
        }
    }

    /// <summary>The unlocked keys of a scope generation (escrow, status, tests).</summary>
    public ScopeKeys GetScopeKeys(string scopeNameOrId, int? generation = null)
    {
        var scope = _keyring.ScopeByNameOrId(scopeNameOrId);
        int wanted = generation ?? scope.CurrentGeneration;
        if (scope.FindKey(wanted) is null)
        {
            throw new FsException(Errno.EINVAL, $"scope '{scope.Name}' has no key generation {wanted}");
        }

        return _keyring.Get(Guid128.Parse(scope.Id), wanted);
    }

    /// <summary>Records this process's control socket in the volume's lock file (see <see cref="FindControlSocket"/>).</summary>
    public void AnnounceControlSocket(string path) =>
        (_lock ?? throw new FsException(Errno.EROFS, "the volume is open read-only: it holds no lock")).Announce(path);

    /// <summary>The control socket of the process that has the volume open, if it announced one and still runs.</summary>
    public static string? FindControlSocket(string backingDir)
    {
        var (pid, socket) = VolumeLock.ReadRecord(backingDir);
        return pid is { } p && socket is not null && Directory.Exists($"/proc/{p}") ? socket : null;
    }

    public FileSystemStatus GetFileSystemStatus()
    {
        var status = BackingFs.StatFs(TreeRoot);
        return status with { NameMax = Names.NameCipher.MaxNameBytes };
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_nodesLock)
        {
            foreach (var node in _nodes.Values)
            {
                node.Dispose();
            }

            _nodes.Clear();
        }

        _recordSync.Dispose();
        _xattrLock.Dispose();
        if (!ReadOnly)
        {
            // Closing a volume is a durability point, as unmounting a local filesystem is.
            try
            {
                BackingFs.SyncFileSystem(BackingDirectory);
            }
            catch (FsException e)
            {
                _logger.LogError("Final sync of {Backing} failed: {Reason}", BackingDirectory, e.Message);
            }
        }

        _keyring.Dispose();
        _lock?.Dispose();
    }

    internal void SaveHeader()
    {
        RequireWritable();
        var defaultScope = Header.GetDefaultScope();
        using var headerKey = _keyring.Get(Guid128.Parse(defaultScope.Id), defaultScope.CurrentGeneration).VolumeHeaderKey();
        VolumeHeaderFile.Write(BackingDirectory, Header, headerKey.Span);
    }

    private void RequireWritable()
    {
        if (ReadOnly)
        {
            throw new FsException(Errno.EROFS, "the volume is open read-only");
        }
    }

    /// <summary>Writes a new directory's record and returns it open: the caller makes it durable (see <see cref="DirectoryRecordSync"/>).</summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle WriteDirectoryRecord(string backingDir, DirectoryRecord record, ScopeKeys keys)
    {
        var bytes = record.Encode(r =>
        {
            using var key = keys.DirectoryRecordKey(r.DirectoryId);
            return key.Span.ToArray();
        });
        var path = Path.Combine(backingDir, DirectoryRecord.FileName);
        var handle = BackingFs.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, 0x1A4 /* 0644 */);
        try
        {
            BackingFs.WriteAt(handle, bytes, 0);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Directory records not yet synced reach the disk before any fsync of the volume returns.</summary>
    internal void FlushDirectoryRecords() => _recordSync.Flush();
}

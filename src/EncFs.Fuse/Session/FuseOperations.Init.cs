using EncFs.Core.Backing;
using EncFs.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace EncFs.Fuse.Session;

internal sealed partial class FuseOperations
{
    public const int MaxWrite = 1 << 20;
    public const uint ProtocolMajor = 7, ProtocolMinor = 38;

    /// <summary>
    /// What we ask of the kernel: 1 MiB requests, async and parallel operations, readdirplus.
    /// Locks are left to the kernel (local locks are right for a local filesystem); the
    /// writeback cache stays off: we keep size and ordering decisions in the volume.
    /// </summary>
    private const InitFlags Wanted = InitFlags.AsyncRead | InitFlags.AtomicOTrunc | InitFlags.BigWrites
        | InitFlags.DoReaddirplus | InitFlags.ReaddirplusAuto | InitFlags.ParallelDirops | InitFlags.MaxPages
        | InitFlags.AutoInvalData | InitFlags.AsyncDio | InitFlags.CacheSymlinks;

    private int Init(ref RequestReader request, ref ReplyWriter reply)
    {
        var init = request.Read<InitIn>();
        if (init.Major != ProtocolMajor)
        {
            _logger.LogError("Kernel speaks FUSE {Major}.{Minor}; this daemon needs 7.x", init.Major, init.Minor);
            return (int)Errno.EPROTO;
        }

        var offered = (InitFlags)init.Flags;
        var granted = offered & Wanted;
        _logger.LogDebug("FUSE INIT {Major}.{Minor}, offered {Offered}, granted {Granted}", init.Major, init.Minor, offered, granted);
        reply.Write(new InitOut
        {
            Major = ProtocolMajor,
            Minor = Math.Min(init.Minor, ProtocolMinor),
            MaxReadahead = init.MaxReadahead,
            Flags = (uint)granted,
            MaxBackground = 64,
            CongestionThreshold = 48,
            MaxWrite = MaxWrite,
            TimeGranularity = 1,
            MaxPages = MaxWrite / 4096,
        });
        return 0;
    }
}

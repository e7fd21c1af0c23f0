using EncFs.Core.Backing;

namespace EncFs.Core.Volume;

/// <summary>
/// Whether a scope may be used right now. Open files check it on every read and write, so
/// disabling a scope (or losing its key) refuses access at once, not at the next open.
/// </summary>
internal sealed class ScopeGate
{
    private volatile string? _closedReason;

    public bool IsOpen => _closedReason is null;

    public void Open() => _closedReason = null;

    public void Close(string reason) => _closedReason = reason;

    public void ThrowIfClosed(string path)
    {
        if (_closedReason is { } reason)
        {
            throw new FsException(Errno.EACCES, $"'{path}': {reason}");
        }
    }
}

namespace EncFs.Crypto.Xts;

/// <summary>
/// One AES-256-XTS implementation. Arguments are already validated by
/// <see cref="XtsSectorCipher"/>: sectorSize is in [16, 2^24], input and output have the same
/// length, a multiple of sectorSize, and are either the same memory or disjoint.
/// </summary>
internal abstract class XtsEngine : IDisposable
{
    public abstract string Name { get; }

    /// <summary>Transforms consecutive data units numbered firstDataUnit, firstDataUnit + 1, ...</summary>
    public abstract void Transform(
        bool encrypt, ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> input, Span<byte> output);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}


namespace EncFs.Attack;

/// <summary>Where a known 16-byte run comes from: a known source (file) and the offset in it.</summary>
public readonly record struct KnownRun(int Source, long Offset);

/// <summary>A confirmed match: <see cref="Length"/> bytes at <see cref="Offset"/> of the scanned data equal the known run.</summary>
public readonly record struct RunMatch(long Offset, KnownRun Known, int Length);

/// <summary>
/// Rabin-Karp index of the 16-byte windows of known plaintext: a polynomial rolling hash mod 2^64,
/// mixed and kept in a dictionary behind a bit-set prefilter. Scanning slides the same hash over
/// any data; a candidate is confirmed byte for byte against the known source before it is reported.
/// With more known data than <see cref="MaxIndexedWindows"/> windows, only every stride-th window is
/// indexed: a run of 16 + stride - 1 bytes is then still always found (<see cref="GuaranteedRunLength"/>).
/// </summary>
public sealed class RunIndex
{
    public const int Window = 16;
    public const long MaxIndexedWindows = 4 << 20;
    private const ulong Base = 0x100000001B3;
    private static readonly ulong Pow15 = Power(Base, Window - 1);

    private readonly Dictionary<ulong, KnownRun> _runs = [];
    private readonly ulong[] _filter;
    private readonly int _filterBits;
    private readonly List<Func<long, byte[]?>> _readers = [];
    private readonly int _stride;

    public RunIndex(long totalKnownBytes = 0, long maxIndexedWindows = MaxIndexedWindows)
    {
        _stride = (int)Math.Max(1, (totalKnownBytes + maxIndexedWindows - 1) / maxIndexedWindows);
        // About 16 filter bits per indexed window (a 1-in-16 prefilter pass at most), 2^20 to 2^28 bits.
        long windows = Math.Min(maxIndexedWindows, totalKnownBytes / _stride);
        _filterBits = Math.Clamp(64 - (int)ulong.LeadingZeroCount((ulong)Math.Max(1, windows * 16)), 20, 28);
        _filter = new ulong[(1 << _filterBits) / 64];
    }

    /// <summary>Sources added (known files, strings).</summary>
    public int SourceCount => _readers.Count;

    public int IndexedWindows => _runs.Count;

    /// <summary>The shortest run that is always found (16 unless the known data was too big to index every window).</summary>
    public int GuaranteedRunLength => Window + _stride - 1;

    /// <summary>Adds an in-memory known source.</summary>
    public int AddBytes(byte[] data)
    {
        int source = _readers.Count;
        _readers.Add(offset => offset + Window <= data.Length ? data.AsSpan((int)offset, Window).ToArray() : null);
        IndexSpan(data, 0, source);
        return source;
    }

    /// <summary>Adds a known file, streamed; its windows are confirmed later by reading the file again.</summary>
    public int AddFile(string path)
    {
        int source = _readers.Count;
        _readers.Add(offset => ReadAt(path, offset));
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        int carry = 0;
        long bufferStart = 0;
        while (true)
        {
            int n = stream.ReadAtLeast(buffer.AsSpan(carry), buffer.Length - carry, throwOnEndOfStream: false);
            if (n == 0)
            {
                break;
            }

            int length = carry + n;
            IndexSpan(buffer.AsSpan(0, length), bufferStart, source);
            carry = Math.Min(Window - 1, length);
            buffer.AsSpan(length - carry, carry).CopyTo(buffer);
            bufferStart += length - carry;
        }

        return source;
    }

    /// <summary>
    /// Scans <paramref name="data"/> (which starts at <paramref name="dataOffset"/> of a stream) and
    /// reports each confirmed window. Windows starting before <paramref name="skipBefore"/> are not
    /// reported (they were reported with the previous chunk).
    /// </summary>
    public void Scan(ReadOnlySpan<byte> data, long dataOffset, Action<RunMatch> onMatch, int skipBefore = 0)
    {
        if (data.Length < Window || _runs.Count == 0)
        {
            return;
        }

        ulong hash = 0;
        for (int i = 0; i < Window; i++)
        {
            hash = (hash * Base) + data[i];
        }

        for (int start = 0; ; start++)
        {
            ulong mixed = Mix(hash);
            if (start >= skipBefore && Get(_filter, (int)(mixed >> (64 - _filterBits))) && _runs.TryGetValue(mixed, out var known))
            {
                var bytes = _readers[known.Source](known.Offset);
                var candidate = data.Slice(start, Window);
                if (bytes is not null && candidate.SequenceEqual(bytes))
                {
                    onMatch(new RunMatch(dataOffset + start, known, Window));
                }
            }

            int next = start + Window;
            if (next >= data.Length)
            {
                break;
            }

            hash = ((hash - (data[start] * Pow15)) * Base) + data[next];
        }
    }

    /// <summary>All confirmed matches in a small buffer (names, targets, xattrs).</summary>
    public List<RunMatch> ScanAll(ReadOnlySpan<byte> data)
    {
        var matches = new List<RunMatch>();
        Scan(data, 0, matches.Add);
        return matches;
    }

    private void IndexSpan(ReadOnlySpan<byte> data, long dataOffset, int source)
    {
        if (data.Length < Window)
        {
            return;
        }

        ulong hash = 0;
        for (int i = 0; i < Window; i++)
        {
            hash = (hash * Base) + data[i];
        }

        for (int start = 0; ; start++)
        {
            long offset = dataOffset + start;
            if (offset % _stride == 0)
            {
                ulong mixed = Mix(hash);
                if (_runs.TryAdd(mixed, new KnownRun(source, offset)))
                {
                    Set(_filter, (int)(mixed >> (64 - _filterBits)));
                }
            }

            int next = start + Window;
            if (next >= data.Length)
            {
                break;
            }

            hash = ((hash - (data[start] * Pow15)) * Base) + data[next];
        }
    }

    private static byte[]? ReadAt(string path, long offset)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var bytes = new byte[Window];
            return RandomAccess.Read(handle, bytes, offset) == Window ? bytes : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static ulong Mix(ulong x)
    {
        // splitmix64's finaliser: spreads the polynomial hash's weak low bits over all 64.
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9;
        x ^= x >> 27;
        x *= 0x94D049BB133111EB;
        x ^= x >> 31;
        return x;
    }

    private static ulong Power(ulong value, int exponent)
    {
        ulong result = 1;
        for (int i = 0; i < exponent; i++)
        {
            result *= value;
        }

        return result;
    }

    private static bool Get(ulong[] bits, int slot) => ((bits[slot >> 6] >> (slot & 63)) & 1) != 0;

    private static void Set(ulong[] bits, int slot) => bits[slot >> 6] |= 1UL << (slot & 63);
}

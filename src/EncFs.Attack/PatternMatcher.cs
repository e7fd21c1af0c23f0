using System.Buffers.Binary;

namespace EncFs.Attack;

/// <summary>A byte string to look for, with what it is (a name, a key form) and where it comes from.</summary>
public sealed record Pattern(byte[] Bytes, string Kind, string Label, bool InContents);

/// <summary>A pattern found at an offset of scanned data.</summary>
public readonly record struct PatternMatch(long Offset, Pattern Pattern);

/// <summary>
/// Finds many byte strings (at least 4 bytes long) at once: the first 4 bytes of each pattern key
/// a dictionary behind a bit-set prefilter, so the scan is one cheap test per byte.
/// </summary>
public sealed class PatternMatcher
{
    public const int MinLength = 4;
    private const int FilterBits = 24;
    private readonly Dictionary<uint, List<Pattern>> _byPrefix = [];
    private readonly ulong[] _filter = new ulong[(1 << FilterBits) / 64];
    private readonly HashSet<(string, string)> _seen = [];

    public int Count { get; private set; }

    public int MaxLength { get; private set; }

    /// <summary>Adds a pattern; shorter than 4 bytes or already present (same bytes and kind) is ignored.</summary>
    public bool Add(Pattern pattern)
    {
        if (pattern.Bytes.Length < MinLength || !_seen.Add((Convert.ToBase64String(pattern.Bytes), pattern.Kind)))
        {
            return false;
        }

        uint prefix = BinaryPrimitives.ReadUInt32LittleEndian(pattern.Bytes);
        if (!_byPrefix.TryGetValue(prefix, out var list))
        {
            _byPrefix[prefix] = list = [];
        }

        list.Add(pattern);
        Set(_filter, Slot(prefix));
        Count++;
        MaxLength = Math.Max(MaxLength, pattern.Bytes.Length);
        return true;
    }

    /// <summary>
    /// Scans <paramref name="data"/> (at <paramref name="dataOffset"/> of a stream). With
    /// <paramref name="contents"/>, patterns not meant for bulk contents are skipped. A match
    /// lying entirely before <paramref name="carry"/> was reported with the previous chunk and is
    /// skipped.
    /// </summary>
    public void Scan(ReadOnlySpan<byte> data, long dataOffset, bool contents, Action<PatternMatch> onMatch, int carry = 0)
    {
        if (Count == 0)
        {
            return;
        }

        for (int i = 0; i + MinLength <= data.Length; i++)
        {
            uint prefix = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            if (!Get(_filter, Slot(prefix)) || !_byPrefix.TryGetValue(prefix, out var list))
            {
                continue;
            }

            foreach (var pattern in list)
            {
                int end = i + pattern.Bytes.Length;
                if ((contents && !pattern.InContents) || end > data.Length || end <= carry)
                {
                    continue;
                }

                if (data.Slice(i, pattern.Bytes.Length).SequenceEqual(pattern.Bytes))
                {
                    onMatch(new PatternMatch(dataOffset + i, pattern));
                }
            }
        }
    }

    public List<PatternMatch> ScanAll(ReadOnlySpan<byte> data)
    {
        var matches = new List<PatternMatch>();
        Scan(data, 0, contents: false, matches.Add);
        return matches;
    }

    private static int Slot(uint prefix) => (int)((prefix * 0x9E3779B1u) >> (32 - FilterBits));

    private static bool Get(ulong[] bits, int slot) => ((bits[slot >> 6] >> (slot & 63)) & 1) != 0;

    private static void Set(ulong[] bits, int slot) => bits[slot >> 6] |= 1UL << (slot & 63);
}

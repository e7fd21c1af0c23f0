using System.Security.Cryptography;
using System.Text;

namespace EncFs.Fuse.Tests.Support;

public static class TestData
{
    public static byte[] Random(int length) => RandomNumberGenerator.GetBytes(length);

    /// <summary>Bytes that depend on their absolute offset in a file and on a seed: any misplaced byte shows.</summary>
    public static void Fill(Span<byte> destination, long offset, int seed)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            long position = offset + i;
            // Never zero, so a hole or a lost write is never mistaken for data.
            destination[i] = (byte)(((position * 2654435761L) ^ (position >> 13) ^ seed) % 255 + 1);
        }
    }

    public static byte[] Pattern(long offset, int length, int seed)
    {
        var bytes = new byte[length];
        Fill(bytes, offset, seed);
        return bytes;
    }

    /// <summary>A distinctive 32-character ASCII marker: its presence anywhere in the backing directory is a leak.</summary>
    public static string Marker(string kind) =>
        (kind + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)))[..32].PadRight(32, 'x');

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}

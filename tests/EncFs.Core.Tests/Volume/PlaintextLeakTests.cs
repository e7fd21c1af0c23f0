using System.Text;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

/// <summary>
/// Plays the attacker holding the backing medium: no plaintext content, name, symlink target or
/// extended attribute may appear anywhere in it (docs/FORMAT.md section 1).
/// </summary>
public class PlaintextLeakTests
{
    private const int Window = 16;

    [Theory]
    [InlineData(4096, false)]
    [InlineData(4096, true)]
    [InlineData(512, false)]
    public void Nothing_of_the_plaintext_appears_in_any_backing_byte_name_target_or_xattr(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        var volume = test.Volume;
        var content = DistinctiveContent(3 * sectorSize + 1234);
        string[] secretNames = ["QuarterlyFiguresZeta", "PlansForOmegaProject", new string('L', 200) + "LongNameMarker"];
        const string target = "/home/alice/TargetMarkerPath/thing";
        const string xattrName = "user.XattrNameMarkerKappa";
        var xattrValue = Encoding.UTF8.GetBytes("XattrValueMarkerSigma-0123456789");

        volume.CreateDirectory("/" + secretNames[1], new CreateOptions(0x1ED));
        foreach (var directory in new[] { string.Empty, "/" + secretNames[1] })
        {
            foreach (var name in new[] { secretNames[0], secretNames[2] })
            {
                var path = directory + "/" + name;
                test.WriteFile(path, content);
                volume.SetXattr(path, xattrName, xattrValue);
                // Also unaligned rewrites and a sparse tail.
                using var handle = volume.OpenFile(path, FileAccess.ReadWrite);
                handle.Write(777, content.AsSpan(0, 2000));
                handle.Write(content.Length + (5L * sectorSize), content.AsSpan(100, 500));
            }

            volume.CreateSymlink(directory + "/LinkNameMarkerRho", target, new CreateOptions(0x1FF));
        }

        volume.SetXattr("/" + secretNames[1], xattrName, xattrValue);
        test.Close();

        var windows = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in new[] { content, xattrValue })
        {
            for (int i = 0; i + Window <= source.Length; i++)
            {
                windows.Add(Convert.ToHexString(source, i, Window));
            }
        }

        string[] markers = [.. secretNames.Take(2), "LongNameMarker", "LinkNameMarkerRho", "TargetMarkerPath", "XattrNameMarkerKappa", "XattrValueMarkerSigma"];
        var entries = BackingView.Entries(test.BackingDir);
        Assert.Contains(entries, e => e.Name.StartsWith('~'));
        Assert.Equal(2, entries.Count(e => e.Kind == BackingKind.Symlink));
        Assert.Equal(5, entries.Sum(e => e.Xattrs.Count));
        foreach (var entry in entries)
        {
            var where = entry.RelativePath;
            var blobs = new List<byte[]> { entry.Content, Encoding.UTF8.GetBytes(entry.RelativePath) };
            if (entry.LinkTarget is not null)
            {
                blobs.Add(Encoding.UTF8.GetBytes(entry.LinkTarget));
            }

            foreach (var (name, value) in entry.Xattrs)
            {
                blobs.Add(Encoding.UTF8.GetBytes(name));
                blobs.Add(value);
            }

            foreach (var blob in blobs)
            {
                for (int i = 0; i + Window <= blob.Length; i++)
                {
                    Assert.False(windows.Contains(Convert.ToHexString(blob, i, Window)), $"{where}: 16 plaintext bytes at offset {i}");
                }

                foreach (var marker in markers)
                {
                    Assert.True(blob.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker)) < 0, $"{where}: contains '{marker}'");
                    Assert.True(blob.AsSpan().IndexOf(Encoding.Unicode.GetBytes(marker)) < 0, $"{where}: contains '{marker}' as UTF-16");
                }
            }
        }

        // The scan would have found the plaintext had it been there: the volume still reads it.
        Assert.Equal(content.AsSpan(0, 777).ToArray(), test.ReadFile("/" + secretNames[0])[..777]);
    }

    [Fact]
    public void The_same_content_in_two_files_and_two_sectors_encrypts_differently()
    {
        using var test = TestVolume.Create();
        var sector = DistinctiveContent(4096);
        test.WriteFile("/a", [.. sector, .. sector]);
        test.WriteFile("/b", [.. sector, .. sector]);
        var a = File.ReadAllBytes(BackingView.FileOf(test.Volume, "/a"));
        var b = File.ReadAllBytes(BackingView.FileOf(test.Volume, "/b"));
        Assert.Equal(96 + 8192, a.Length);
        var a0 = a.AsSpan(96, 4096);
        var a1 = a.AsSpan(96 + 4096, 4096);
        var b0 = b.AsSpan(96, 4096);
        Assert.False(a0.SequenceEqual(a1), "the tweak differs per sector");
        Assert.False(a0.SequenceEqual(b0), "the key differs per file");
        Assert.False(a.AsSpan(8, 16).SequenceEqual(b.AsSpan(8, 16)), "file ids differ");
    }

    /// <summary>Recognisable text (numbered lines): no ciphertext plausibly contains 16 bytes of it.</summary>
    private static byte[] DistinctiveContent(int length)
    {
        var text = new StringBuilder();
        for (int line = 0; text.Length < length; line++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"SECRET-PAYLOAD line {line:D6}: attack at dawn; ");
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}

using EncFs.Fuse.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.BadInput;

/// <summary>
/// The backing directory on a full disk (an 8 MiB tmpfs): the writer gets ENOSPC, what was
/// acknowledged stays readable, other files are untouched, and freeing space makes the volume
/// usable again.
/// </summary>
public sealed class FullDiskTests
{
    private const int Chunk = 64 * 1024;

    [Fact]
    public void WriterGetsEnospcAndTheVolumeRecovers()
    {
        using var volume = MountedVolume.Create(tmpfsSize: "8m");
        var keep = TestData.Random(300_000);
        using (var stream = new FileStream(volume.PathOf("keep.bin"), FileMode.CreateNew))
        {
            stream.Write(keep);
            stream.Flush(flushToDisk: true);
        }

        // dd from /dev/urandom until the disk is full.
        var dd = Shell($"dd if=/dev/urandom of='{volume.PathOf("big")}' bs=64k 2>&1 || echo \"dd exit $?\"", timeout: TimeSpan.FromMinutes(1)).EnsureSuccess();
        Assert.Contains("No space left on device", dd.Stdout, StringComparison.Ordinal);
        Assert.Contains("dd exit 1", dd.Stdout, StringComparison.Ordinal);
        Assert.InRange(new FileInfo(volume.PathOf("big")).Length, 4 << 20, 8 << 20);
        Assert.Equal(keep, File.ReadAllBytes(volume.PathOf("keep.bin")));
        Assert.Equal(new FileInfo(volume.PathOf("big")).Length, File.ReadAllBytes(volume.PathOf("big")).Length);

        // Creating more on the full disk fails cleanly; the namespace stays listable.
        var mkdir = Shell($"mkdir '{volume.PathOf("new-dir")}' && head -c 100000 /dev/zero > '{volume.PathOf("new-dir", "f")}'");
        Assert.NotEqual(0, mkdir.ExitCode);
        Assert.Contains("No space left on device", mkdir.Stderr, StringComparison.Ordinal);
        Assert.Contains("keep.bin", Directory.GetFiles(volume.MountPoint).Select(Path.GetFileName));

        // Freeing space makes the volume usable again.
        File.Delete(volume.PathOf("big"));
        if (Directory.Exists(volume.PathOf("new-dir")))
        {
            Directory.Delete(volume.PathOf("new-dir"), recursive: true);
        }

        // A writer with known data: everything acknowledged before ENOSPC reads back exactly.
        var path = volume.PathOf("acknowledged.bin");
        long acknowledged = WriteUntilFull(path);
        Assert.InRange(acknowledged, 4L << 20, 8L << 20);
        var written = File.ReadAllBytes(path);
        Assert.True(written.Length >= acknowledged, $"only {written.Length} of {acknowledged} acknowledged bytes are in the file");
        var expected = TestData.Pattern(0, written.Length, seed: 3);
        Assert.True(written.AsSpan(0, (int)acknowledged).SequenceEqual(expected.AsSpan(0, (int)acknowledged)), "acknowledged bytes changed");
        for (long i = acknowledged; i < written.Length; i++)
        {
            Assert.True(written[i] == 0 || written[i] == expected[i], $"byte {i} past the acknowledged end is neither data nor zero");
        }

        Assert.Equal(keep, File.ReadAllBytes(volume.PathOf("keep.bin")));
        File.Delete(path);

        var after = TestData.Random(2_000_000);
        File.WriteAllBytes(volume.PathOf("after.bin"), after);
        Assert.Equal(after, File.ReadAllBytes(volume.PathOf("after.bin")));
        Directory.CreateDirectory(volume.PathOf("new-dir"));
        File.WriteAllText(volume.PathOf("new-dir", "f"), "works again");

        // And all of it is in the backing files.
        volume.Remount();
        Assert.Equal(keep, File.ReadAllBytes(volume.PathOf("keep.bin")));
        Assert.Equal(after, File.ReadAllBytes(volume.PathOf("after.bin")));
        Assert.Equal("works again", File.ReadAllText(volume.PathOf("new-dir", "f")));
    }

    /// <summary>Writes the pattern in 64 KiB pwrites until one fails with ENOSPC; returns the bytes acknowledged.</summary>
    private static long WriteUntilFull(string path)
    {
        var buffer = new byte[Chunk];
        long position = 0;
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        while (true)
        {
            TestData.Fill(buffer, position, seed: 3);
            try
            {
                RandomAccess.Write(handle, buffer, position);
            }
            catch (IOException e)
            {
                Assert.True(e.HResult == Sys.ENOSPC || e.Message.Contains("No space left", StringComparison.Ordinal), e.ToString());
                return position;
            }

            position += Chunk;
            Assert.True(position < 64L << 20, "an 8 MiB disk took 64 MiB without ENOSPC");
        }
    }
}

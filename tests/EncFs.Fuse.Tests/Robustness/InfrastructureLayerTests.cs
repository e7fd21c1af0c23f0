using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Robustness;

/// <summary>
/// A volume with the authenticated infrastructure layer, through the mount: random writes of
/// mixed sizes verify, holes read zeros, and a byte changed on the backing medium makes the
/// read fail with EIO (never wrong data) while other files stay readable.
/// </summary>
public sealed class InfrastructureLayerTests
{
    [Fact]
    public void VerifiedWritesAndTamperingReadsAsEio()
    {
        Tools.Require("fio", "fio");
        using var volume = MountedVolume.Create(initOptions: ["--infrastructure-encryption"]);
        var fio = Run("fio", ["--name=infra", $"--directory={volume.MountPoint}", "--filename=fio.dat", "--size=16m", "--bsrange=1k-300k",
            "--rw=randwrite", "--verify=crc32c", "--verify_fatal=1", "--ioengine=psync", "--randrepeat=0", "--output-format=terse"], timeout: TimeSpan.FromMinutes(2));
        Assert.True(fio.ExitCode == 0, fio + "\ndaemon log:\n" + volume.Log);

        // Holes inside and after the data, shrink and grow: zeros where nothing was written.
        var sparse = volume.PathOf("sparse");
        using (var handle = File.OpenHandle(sparse, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.Write(handle, TestData.Pattern(1_000_000, 5_000, seed: 1), 1_000_000);
            RandomAccess.SetLength(handle, 1_002_000);
            RandomAccess.SetLength(handle, 3_000_000);
            RandomAccess.Write(handle, "B"u8, 2_999_999);
        }

        var expected = new byte[3_000_000];
        TestData.Pattern(1_000_000, 2_000, seed: 1).CopyTo(expected, 1_000_000);
        expected[^1] = (byte)'B';
        Assert.Equal(expected, File.ReadAllBytes(sparse));

        var victim = TestData.Random(100_000);
        File.WriteAllBytes(volume.PathOf("victim"), victim);
        File.WriteAllText(volume.PathOf("bystander"), "untouched");
        volume.Unmount();

        // The attacker flips one byte in the middle of the victim's backing file (the largest
        // backing file of about its size; names are encrypted, sizes are not).
        var backingFile = Directory.EnumerateFiles(volume.Backing, "*", SearchOption.AllDirectories)
            .Select(f => new FileInfo(f))
            .Where(f => f.Length is > 100_000 and < 200_000)
            .Single();
        using (var stream = new FileStream(backingFile.FullName, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            int b = stream.ReadByte();
            stream.Position = stream.Length / 2;
            stream.WriteByte((byte)(b ^ 0x01));
        }

        volume.Mount();
        var read = Shell($"cat '{volume.PathOf("victim")}' > /dev/null");
        Assert.NotEqual(0, read.ExitCode);
        Assert.Contains("Input/output error", read.Stderr, StringComparison.Ordinal);
        Assert.Equal("untouched", File.ReadAllText(volume.PathOf("bystander")));
        Assert.Equal(expected, File.ReadAllBytes(sparse));

        // The sectors before the damage still read correctly.
        using var victimHandle = File.OpenHandle(volume.PathOf("victim"));
        var head = new byte[4096];
        Assert.Equal(4096, RandomAccess.Read(victimHandle, head, 0));
        Assert.Equal(victim[..4096], head);
    }
}

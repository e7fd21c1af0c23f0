using EncFs.Core.Backing;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

/// <summary>The attacker modifies the backing medium and puts it back.</summary>
public class TamperTests
{
    private const int S = 4096;
    private const int Header = BackingView.FileHeaderSize;

    [Fact]
    public void With_infrastructure_encryption_a_flipped_bit_fails_that_sector_with_EIO_only()
    {
        using var test = TestVolume.Create(S, infrastructure: true);
        var content = Content(4 * S);
        test.WriteFile("/f", content);
        var backing = BackingView.FileOf(test.Volume, "/f");
        test.Close();
        const int stride = S + 28;
        BackingView.FlipBit(backing, Header + (2L * stride) + 12 + 100, bit: 3);

        using var handle = test.Volume.OpenFile("/f", FileAccess.Read);
        Assert.Equal(Errno.EIO, ReadError(handle, 2 * S, S));
        Assert.Equal(Errno.EIO, ReadError(handle, (2 * S) + 4000, 10));
        Assert.Equal(Errno.EIO, ReadError(handle, S + 10, S)); // spans sectors 1 and 2
        Assert.Equal(Errno.EIO, ReadError(handle, 0, 4 * S));
        Assert.Equal(content.AsSpan(0, 2 * S).ToArray(), Read(handle, 0, 2 * S));
        Assert.Equal(content.AsSpan(3 * S, S).ToArray(), Read(handle, 3 * S, S));

        // Every byte of the stored sector is covered: nonce, ciphertext and tag.
        foreach (int offset in new[] { 0, 11, 12, S + 11, S + 12, stride - 1 })
        {
            test.Close();
            var original = BackingView.ReadRange(backing, Header + (3L * stride), stride);
            BackingView.FlipBit(backing, Header + (3L * stride) + offset);
            using (var h = test.Volume.OpenFile("/f", FileAccess.Read))
            {
                Assert.Equal(Errno.EIO, ReadError(h, 3 * S, 1));
            }

            test.Close();
            BackingView.WriteRange(backing, Header + (3L * stride), original);
        }
    }

    [Fact]
    public void Without_infrastructure_encryption_a_flipped_bit_garbles_exactly_its_16_byte_block()
    {
        // AES-XTS is not authenticated. Each 16-byte block of a sector is encrypted on its own
        // (AES under a tweak that depends on the sector number and the block's position), so a
        // flipped ciphertext bit turns its whole 16-byte block into unrelated bytes when
        // decrypted, while every other block of the sector, and every other sector, reads back
        // intact. The read succeeds: detecting this is what the infrastructure layer is for.
        using var test = TestVolume.Create(S, infrastructure: false);
        var content = Content(3 * S);
        test.WriteFile("/f", content);
        var backing = BackingView.FileOf(test.Volume, "/f");
        test.Close();
        const int flipped = (S * 1) + 1000; // plaintext offset 5096, in block 62 of sector 1
        BackingView.FlipBit(backing, Header + flipped, bit: 5);

        var read = test.ReadFile("/f");
        Assert.Equal(content.Length, read.Length);
        int block = flipped / 16 * 16;
        for (int at = 0; at < content.Length; at += 16)
        {
            var expected = content.AsSpan(at, 16);
            var actual = read.AsSpan(at, 16);
            if (at == block)
            {
                int differing = 0;
                for (int i = 0; i < 16; i++)
                {
                    differing += expected[i] != actual[i] ? 1 : 0;
                }

                Assert.True(differing >= 12, $"the garbled block differs in only {differing} of 16 bytes");
            }
            else
            {
                Assert.True(expected.SequenceEqual(actual), $"block at {at} changed");
            }
        }
    }

    [Fact]
    public void Swapped_sectors_within_a_file_and_between_files_fail_with_infrastructure_encryption()
    {
        using var test = TestVolume.Create(S, infrastructure: true);
        var a = Content(3 * S, seed: 1);
        var b = Content(3 * S, seed: 2);
        test.WriteFile("/a", a);
        test.WriteFile("/b", b);
        var backingA = BackingView.FileOf(test.Volume, "/a");
        var backingB = BackingView.FileOf(test.Volume, "/b");
        test.Close();
        const int stride = S + 28;

        // Within a file: sectors 0 and 1 of /a trade places.
        var a0 = BackingView.ReadRange(backingA, Header, stride);
        var a1 = BackingView.ReadRange(backingA, Header + stride, stride);
        BackingView.WriteRange(backingA, Header, a1);
        BackingView.WriteRange(backingA, Header + stride, a0);
        // Between files: sector 2 of /b is replaced by sector 2 of /a (same position).
        var a2 = BackingView.ReadRange(backingA, Header + (2L * stride), stride);
        BackingView.WriteRange(backingB, Header + (2L * stride), a2);

        using (var handle = test.Volume.OpenFile("/a", FileAccess.Read))
        {
            Assert.Equal(Errno.EIO, ReadError(handle, 0, 1));
            Assert.Equal(Errno.EIO, ReadError(handle, S, 1));
            Assert.Equal(a.AsSpan(2 * S, S).ToArray(), Read(handle, 2 * S, S));
        }

        using (var handle = test.Volume.OpenFile("/b", FileAccess.Read))
        {
            Assert.Equal(b.AsSpan(0, 2 * S).ToArray(), Read(handle, 0, 2 * S));
            Assert.Equal(Errno.EIO, ReadError(handle, 2 * S, S));
        }
    }

    [Fact]
    public void Without_infrastructure_encryption_swapped_sectors_read_as_garbage_not_as_the_moved_data()
    {
        using var test = TestVolume.Create(S, infrastructure: false);
        var a = Content(2 * S, seed: 3);
        test.WriteFile("/a", a);
        var backing = BackingView.FileOf(test.Volume, "/a");
        test.Close();
        var s0 = BackingView.ReadRange(backing, Header, S);
        var s1 = BackingView.ReadRange(backing, Header + S, S);
        BackingView.WriteRange(backing, Header, s1);
        BackingView.WriteRange(backing, Header + S, s0);

        var read = test.ReadFile("/a");
        // The tweak is the sector number, so a moved sector decrypts to unrelated bytes.
        Assert.False(read.AsSpan(0, S).SequenceEqual(a.AsSpan(S, S)));
        Assert.False(read.AsSpan(0, S).SequenceEqual(a.AsSpan(0, S)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_truncated_backing_file_gives_EIO_for_the_missing_range(bool infrastructure)
    {
        using var test = TestVolume.Create(S, infrastructure);
        var content = Content((4 * S) + 100);
        test.WriteFile("/f", content);
        var backing = BackingView.FileOf(test.Volume, "/f");
        test.Close();
        int stride = infrastructure ? S + 28 : S;
        using (var stream = new FileStream(backing, FileMode.Open))
        {
            stream.SetLength(Header + (2L * stride) + 10); // sector 2 cut short, 3 and 4 gone
        }

        var volume = test.Volume;
        // The size comes from the authenticated header, not from the backing length.
        Assert.Equal(content.Length, volume.GetStatus("/f").Size);
        using var handle = volume.OpenFile("/f", FileAccess.Read);
        Assert.Equal(content.Length, handle.Length);
        Assert.Equal(content.AsSpan(0, 2 * S).ToArray(), Read(handle, 0, 2 * S));
        Assert.Equal(Errno.EIO, ReadError(handle, 2 * S, 1));
        Assert.Equal(Errno.EIO, ReadError(handle, 4 * S, 50));
        Assert.Equal(Errno.EIO, ReadError(handle, S, 2 * S));
        var e = Assert.Throws<FsException>(() => Read(handle, 3 * S, 10));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)] // magic
    [InlineData(4)] // version
    [InlineData(5)] // flags
    [InlineData(6)] // log2(sector size)
    [InlineData(7)] // reserved, authenticated
    [InlineData(8)] // file id
    [InlineData(24)] // scope id
    [InlineData(40)] // DEK generation
    [InlineData(44)] // reserved, authenticated
    [InlineData(48)] // size nonce
    [InlineData(60)] // sealed size
    [InlineData(68)] // tag
    [InlineData(83)]
    public void A_corrupt_file_header_gives_EIO_on_open(int offset)
    {
        using var test = TestVolume.Create(S, infrastructure: true);
        test.WriteFile("/f", Content(100));
        test.WriteFile("/other", Content(100));
        var backing = BackingView.FileOf(test.Volume, "/f");
        test.Close();
        BackingView.FlipBit(backing, offset);

        var e = Assert.Throws<FsException>(() => test.Volume.OpenFile("/f", FileAccess.Read));
        Assert.Equal(Errno.EIO, e.Errno);
        Assert.Contains("'/f'", e.Message, StringComparison.Ordinal);
        // The entry can still be listed, stat'ed and removed; other files are unaffected.
        Assert.Contains(test.Volume.ReadDirectory("/", withStatus: true), x => x.Name == "f");
        Assert.Equal(Content(100), test.ReadFile("/other"));
        test.Volume.Unlink("/f");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_file_header_copied_from_another_file_does_not_give_back_either_plaintext(bool infrastructure)
    {
        using var test = TestVolume.Create(S, infrastructure);
        var a = Content(5000, seed: 1);
        var b = Content(5000, seed: 2);
        test.WriteFile("/a", a);
        test.WriteFile("/b", b);
        var backingA = BackingView.FileOf(test.Volume, "/a");
        var backingB = BackingView.FileOf(test.Volume, "/b");
        test.Close();
        // /b gets /a's header: it then claims /a's id (and keys), but its sectors are /b's.
        BackingView.WriteRange(backingB, 0, BackingView.ReadRange(backingA, 0, Header));
        using var handle = test.Volume.OpenFile("/b", FileAccess.Read);
        if (infrastructure)
        {
            Assert.Equal(Errno.EIO, ReadError(handle, 0, 5000));
        }
        else
        {
            var read = Read(handle, 0, 5000);
            Assert.False(read.AsSpan().SequenceEqual(a));
            Assert.False(read.AsSpan().SequenceEqual(b));
        }
    }

    [Theory]
    [InlineData(0)] // magic
    [InlineData(5)] // deny-override flag
    [InlineData(8)] // directory id
    [InlineData(24)] // scope id
    [InlineData(40)] // generation
    [InlineData(50)] // MAC
    [InlineData(75)]
    public void A_corrupt_directory_record_gives_EIO(int offset)
    {
        using var test = TestVolume.Create();
        test.Volume.CreateDirectory("/d", new CreateOptions(0x1ED));
        test.WriteFile("/d/f", "x"u8);
        var record = Path.Combine(Path.GetDirectoryName(BackingView.FileOf(test.Volume, "/d/f"))!, ".efsdir");
        test.Close();
        BackingView.FlipBit(record, offset);

        var volume = test.Volume;
        Assert.Equal(Errno.EIO, Assert.Throws<FsException>(() => volume.ReadDirectory("/d")).Errno);
        Assert.Equal(Errno.EIO, Assert.Throws<FsException>(() => volume.GetStatus("/d/f")).Errno);
        Assert.Equal(Errno.EIO, Assert.Throws<FsException>(() => volume.CreateFile("/d/g", new CreateOptions(0x1A4))).Errno);
        Assert.Contains(volume.ReadDirectory("/"), e => e.Name == "d");
    }

    [Fact]
    public void A_missing_or_corrupt_root_record_gives_EIO()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "x"u8);
        test.Close();
        var record = Path.Combine(test.TreeDir, ".efsdir");
        BackingView.FlipBit(record, 60);
        Assert.Equal(Errno.EIO, Assert.Throws<FsException>(() => test.Volume.ReadDirectory("/")).Errno);
        test.Close();
        File.Delete(record);
        var e = Assert.Throws<FsException>(() => test.Volume.GetStatus("/f"));
        Assert.Equal(Errno.EIO, e.Errno);
        Assert.Contains("directory record missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_record_copied_from_another_directory_changes_nothing_readable()
    {
        // Records are authenticated with a key bound to their own directory id; a copy carries
        // the other directory's id, so the names of this directory no longer decrypt.
        using var test = TestVolume.Create();
        test.Volume.CreateDirectory("/one", new CreateOptions(0x1ED));
        test.Volume.CreateDirectory("/two", new CreateOptions(0x1ED));
        test.WriteFile("/one/f", "1"u8);
        test.WriteFile("/two/g", "2"u8);
        var one = Path.GetDirectoryName(BackingView.FileOf(test.Volume, "/one/f"))!;
        var two = Path.GetDirectoryName(BackingView.FileOf(test.Volume, "/two/g"))!;
        test.Close();
        File.Copy(Path.Combine(one, ".efsdir"), Path.Combine(two, ".efsdir"), overwrite: true);

        Assert.Empty(test.Volume.ReadDirectory("/two"));
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => test.Volume.GetStatus("/two/g")).Errno);
    }

    private static byte[] Content(int length, int seed = 42)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Read(FileHandle handle, long offset, int count)
    {
        var buffer = new byte[count];
        Assert.Equal(count, handle.Read(offset, buffer));
        return buffer;
    }

    private static Errno ReadError(FileHandle handle, long offset, int count) =>
        Assert.Throws<FsException>(() => handle.Read(offset, new byte[count])).Errno;
}

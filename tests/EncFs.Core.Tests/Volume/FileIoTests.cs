using System.Collections.Concurrent;
using EncFs.Core.Backing;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

public class FileIoTests
{
    private static readonly CreateOptions FileMode = new(0x1A4);

    public static TheoryData<int, bool> Layouts => new()
    {
        { 512, false },
        { 512, true },
        { 4096, false },
        { 4096, true },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Random_writes_truncates_and_reads_match_a_byte_array_model(int sectorSize, bool infrastructure)
    {
        int seed = (sectorSize * 2) + (infrastructure ? 1 : 0);
        var random = new Random(seed);
        using var test = TestVolume.Create(sectorSize, infrastructure);
        int s = sectorSize;
        // Room for writes longer than the engine's 256-sector chunk.
        int capacity = (300 * s) + (8 * s);
        var model = new byte[capacity];
        long size = 0;
        var handle = test.Volume.CreateFile("/model.bin", FileMode);
        try
        {
            for (int step = 0; step < 400; step++)
            {
                string op;
                int roll = random.Next(100);
                if (roll < 45)
                {
                    long offset = Math.Min(capacity - 1, RandomOffset(random, size, s));
                    int length = (int)Math.Min(RandomLength(random, s), capacity - offset);
                    var data = new byte[length];
                    random.NextBytes(data);
                    op = $"write({offset}, {length})";
                    handle.Write(offset, data);
                    if (length > 0)
                    {
                        data.CopyTo(model, offset);
                        size = Math.Max(size, offset + length);
                    }
                }
                else if (roll < 60)
                {
                    long length = Math.Min(capacity, RandomOffset(random, size, s));
                    op = $"truncate({length})";
                    handle.SetLength(length);
                    if (length < size)
                    {
                        Array.Clear(model, (int)length, (int)(size - length));
                    }

                    size = length;
                }
                else if (roll < 90)
                {
                    long offset = RandomOffset(random, size, s);
                    int length = RandomLength(random, s);
                    op = $"read({offset}, {length})";
                    var buffer = new byte[length];
                    int n = handle.Read(offset, buffer);
                    int expected = (int)Math.Clamp(size - offset, 0, length);
                    Assert.True(expected == n, $"seed {seed} step {step} {op}: read {n}, expected {expected}");
                    AssertSame(model.AsSpan((int)Math.Min(offset, capacity), n), buffer.AsSpan(0, n), $"seed {seed} step {step} {op}");
                }
                else if (roll < 96)
                {
                    op = "reopen file";
                    handle.Dispose();
                    handle = test.Volume.OpenFile("/model.bin", FileAccess.ReadWrite);
                }
                else
                {
                    op = "reopen volume";
                    handle.Dispose();
                    test.Reopen();
                    handle = test.Volume.OpenFile("/model.bin", FileAccess.ReadWrite);
                }

                Assert.True(size == handle.Length, $"seed {seed} step {step} {op}: length {handle.Length}, model {size}");
                Assert.Equal(size, test.Volume.GetStatus("/model.bin").Size);
                test.AssertBackingLength("/model.bin", size);
            }
        }
        finally
        {
            handle.Dispose();
        }

        test.Reopen();
        AssertSame(model.AsSpan(0, (int)size), test.ReadFile("/model.bin"), $"seed {seed} final content");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writes_at_many_offsets_and_lengths_across_sector_boundaries_round_trip(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        int s = sectorSize;
        int[] offsets = [0, 1, 15, 16, 17, s - 1, s, s + 1, (2 * s) - 7, 3 * s];
        int[] lengths = [1, 2, 16, s - 1, s, s + 1, (2 * s) + 3];
        var random = new Random(7);
        int index = 0;
        foreach (int offset in offsets)
        {
            foreach (int length in lengths)
            {
                var path = $"/f{index++}";
                // Start from existing content, so read-modify-write of partial sectors is exercised.
                var before = new byte[(4 * s) + 5];
                random.NextBytes(before);
                test.WriteFile(path, before);
                var data = new byte[length];
                random.NextBytes(data);
                using (var handle = test.Volume.OpenFile(path, FileAccess.ReadWrite))
                {
                    handle.Write(offset, data);
                }

                var expected = before.ToArray();
                if (offset + length > expected.Length)
                {
                    Array.Resize(ref expected, offset + length);
                }

                data.CopyTo(expected, offset);
                AssertSame(expected, test.ReadFile(path), $"offset {offset} length {length}");
                test.AssertBackingLength(path, expected.Length);
            }
        }
    }

    /// <summary>Writes and reads larger than one 256-sector chunk, unaligned, split across chunks.</summary>
    [Theory]
    [MemberData(nameof(Layouts))]
    public void Large_unaligned_writes_and_reads_span_chunks(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        var random = new Random(11);
        var before = new byte[(600 * sectorSize) + 123];
        random.NextBytes(before);
        test.WriteFile("/big", before);
        var data = new byte[(300 * sectorSize) + 77];
        random.NextBytes(data);
        int offset = (100 * sectorSize) + 5;
        using (var handle = test.Volume.OpenFile("/big", FileAccess.ReadWrite))
        {
            handle.Write(offset, data);
            var window = new byte[(257 * sectorSize) + 9];
            Assert.Equal(window.Length, handle.Read(offset - 3, window));
            var expectedWindow = before.AsSpan(offset - 3, 3).ToArray().Concat(data).Take(window.Length).ToArray();
            AssertSame(expectedWindow, window, "read across chunks");
        }

        data.CopyTo(before, offset);
        AssertSame(before, test.ReadFile("/big"), "whole file");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Appends_accumulate(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        var random = new Random(3);
        var expected = new List<byte>();
        using (var handle = test.Volume.CreateFile("/log", FileMode))
        {
            for (int i = 0; i < 60; i++)
            {
                var chunk = new byte[random.Next(1, sectorSize + 300)];
                random.NextBytes(chunk);
                handle.Write(handle.Length, chunk);
                expected.AddRange(chunk);
                Assert.Equal(expected.Count, handle.Length);
            }
        }

        test.AssertBackingLength("/log", expected.Count);
        AssertSame([.. expected], test.ReadFile("/log"), "appended content");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_write_far_beyond_the_end_leaves_a_hole_that_reads_as_zeros(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        int s = sectorSize;
        long far = (10 * s) + 123;
        using (var handle = test.Volume.CreateFile("/sparse", FileMode))
        {
            handle.Write(0, "head"u8);
            handle.Write(far, "tail"u8);
            Assert.Equal(far + 4, handle.Length);
        }

        var content = test.ReadFile("/sparse");
        Assert.Equal(far + 4, content.Length);
        Assert.Equal("head"u8.ToArray(), content[..4]);
        Assert.Equal("tail"u8.ToArray(), content[^4..]);
        Assert.All(content[4..^4], b => Assert.Equal(0, b));
        test.AssertBackingLength("/sparse", far + 4);

        // The sectors between hold no data: without the infrastructure layer they are backing
        // holes (all zero), with it they are encrypted zeros that must authenticate.
        var backing = BackingView.FileOf(test.Volume, "/sparse");
        int stride = infrastructure ? s + BackingView.SealOverhead : s;
        var middle = BackingView.ReadRange(backing, BackingView.FileHeaderSize + (5L * stride), stride);
        Assert.Equal(!infrastructure, middle.All(b => b == 0));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Shrinking_to_mid_sector_then_growing_reads_zeros(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        int s = sectorSize;
        var data = new byte[3 * s];
        new Random(5).NextBytes(data);
        test.WriteFile("/t", data);
        long cut = s + (s / 3);
        using (var handle = test.Volume.OpenFile("/t", FileAccess.ReadWrite))
        {
            handle.SetLength(cut);
            test.AssertBackingLength("/t", cut);
            handle.SetLength(3 * s);
            test.AssertBackingLength("/t", 3 * s);
        }

        var content = test.ReadFile("/t");
        AssertSame(data.AsSpan(0, (int)cut), content.AsSpan(0, (int)cut), "kept part");
        Assert.All(content[(int)cut..], b => Assert.Equal(0, b));

        // Growing by a write past the end after a shrink: the gap reads as zeros too.
        using (var handle = test.Volume.OpenFile("/t", FileAccess.ReadWrite))
        {
            handle.SetLength(10);
            handle.Write(2 * s, "x"u8);
        }

        content = test.ReadFile("/t");
        Assert.Equal((2 * s) + 1, content.Length);
        AssertSame(data.AsSpan(0, 10), content.AsSpan(0, 10), "first bytes");
        Assert.All(content[10..^1], b => Assert.Equal(0, b));
        Assert.Equal((byte)'x', content[^1]);
    }

    [Fact]
    public void Truncate_on_open_and_by_path_set_the_size()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", new byte[10000]);
        using (var handle = test.Volume.OpenFile("/f", FileAccess.ReadWrite, truncate: true))
        {
            Assert.Equal(0, handle.Length);
        }

        test.AssertBackingLength("/f", 0);
        test.Volume.SetLength("/f", 5000);
        Assert.Equal(5000, test.Volume.GetStatus("/f").Size);
        test.AssertBackingLength("/f", 5000);
        Assert.All(test.ReadFile("/f"), b => Assert.Equal(0, b));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Size_survives_closing_the_file_and_reopening_the_volume(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        long[] sizes = [0, 1, sectorSize - 1, sectorSize, sectorSize + 1, (5 * sectorSize) + 77];
        foreach (long size in sizes)
        {
            var data = new byte[size];
            new Random((int)size).NextBytes(data);
            test.WriteFile($"/s{size}", data);
        }

        foreach (long size in sizes)
        {
            using var handle = test.Volume.OpenFile($"/s{size}", FileAccess.Read);
            Assert.Equal(size, handle.Length);
        }

        test.Reopen();
        foreach (long size in sizes)
        {
            Assert.Equal(size, test.Volume.GetStatus($"/s{size}").Size);
            Assert.Contains(test.Volume.ReadDirectory("/", withStatus: true), e => e.Name == $"s{size}" && e.Status!.Value.Size == size);
            var data = new byte[size];
            new Random((int)size).NextBytes(data);
            AssertSame(data, test.ReadFile($"/s{size}"), $"size {size}");
            test.AssertBackingLength($"/s{size}", size);
        }
    }

    [Theory]
    [InlineData(long.MaxValue - 10)]
    [InlineData(1L << 62)]
    public void Writes_past_what_the_backing_filesystem_allows_fail_and_leave_the_size(long offset)
    {
        using var test = TestVolume.Create();
        using var handle = test.Volume.CreateFile("/f", FileMode);
        handle.Write(0, "keep"u8);
        var write = Assert.Throws<FsException>(() => handle.Write(offset, new byte[100]));
        Assert.True(write.Errno is Errno.EFBIG or Errno.EINVAL, write.Message);
        var grow = Assert.Throws<FsException>(() => handle.SetLength(offset));
        Assert.True(grow.Errno is Errno.EFBIG or Errno.EINVAL, grow.Message);
        Assert.Equal(4, handle.Length);
        test.AssertBackingLength("/f", 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => handle.Write(-1, "x"u8));
    }

    [Fact]
    public void Reads_at_and_past_the_end_return_zero_bytes()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "abc"u8);
        using var handle = test.Volume.OpenFile("/f", FileAccess.Read);
        var buffer = new byte[10];
        Assert.Equal(3, handle.Read(0, buffer));
        Assert.Equal(0, handle.Read(3, buffer));
        Assert.Equal(0, handle.Read(1 << 20, buffer));
        Assert.Equal(0, handle.Read(0, Span<byte>.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => handle.Read(-1, buffer));
    }

    [Fact]
    public void Handles_enforce_their_access_mode()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "abc"u8);
        using (var reader = test.Volume.OpenFile("/f", FileAccess.Read))
        {
            Assert.Equal(Errno.EBADF, Assert.Throws<FsException>(() => reader.Write(0, "x"u8)).Errno);
            Assert.Equal(Errno.EBADF, Assert.Throws<FsException>(() => reader.SetLength(0)).Errno);
        }

        using (var writer = test.Volume.OpenFile("/f", FileAccess.Write))
        {
            Assert.Equal(Errno.EBADF, Assert.Throws<FsException>(() => writer.Read(0, new byte[3])).Errno);
            writer.Write(0, "X"u8);
        }

        Assert.Equal("Xbc"u8.ToArray(), test.ReadFile("/f"));
        Assert.Equal(Errno.EEXIST, Assert.Throws<FsException>(() => test.Volume.CreateFile("/f", FileMode)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => test.Volume.OpenFile("/missing", FileAccess.Read)).Errno);
        test.Volume.CreateDirectory("/d", new CreateOptions(0x1ED));
        Assert.Equal(Errno.EISDIR, Assert.Throws<FsException>(() => test.Volume.OpenFile("/d", FileAccess.Read)).Errno);
        using var existing = test.Volume.CreateFile("/f", FileMode, exclusive: false);
        Assert.Equal(3, existing.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Concurrent_writers_to_disjoint_ranges_and_concurrent_readers_agree(bool infrastructure)
    {
        const int sectorSize = 4096;
        const int writers = 4, readers = 2, stripe = 97, total = 120_000;
        using var test = TestVolume.Create(sectorSize, infrastructure);
        var before = new byte[total];
        var after = new byte[total];
        new Random(11).NextBytes(before);
        new Random(12).NextBytes(after);
        // Before and after differ at every position, so a torn or lost update cannot hide.
        for (int i = 0; i < total; i++)
        {
            if (before[i] == after[i])
            {
                after[i] ^= 0xFF;
            }
        }

        test.WriteFile("/shared", before);
        var errors = new ConcurrentQueue<Exception>();
        int writersLeft = writers;
        var threads = new List<Thread>();
        for (int w = 0; w < writers; w++)
        {
            int writer = w;
            threads.Add(new Thread(() =>
            {
                try
                {
                    // Writer w owns every writers-th stripe of 97 bytes: the ranges are disjoint
                    // but every sector is shared by all writers, so each write is a
                    // read-modify-write racing with the others.
                    var random = new Random(writer);
                    using var handle = test.Volume.OpenFile("/shared", FileAccess.ReadWrite);
                    var stripes = Enumerable.Range(0, total / stripe).Where(i => i % writers == writer).OrderBy(_ => random.Next()).ToList();
                    foreach (int i in stripes)
                    {
                        handle.Write(i * stripe, after.AsSpan(i * stripe, stripe));
                    }
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
                finally
                {
                    Interlocked.Decrement(ref writersLeft);
                }
            }));
        }

        for (int r = 0; r < readers; r++)
        {
            int seed = 100 + r;
            threads.Add(new Thread(() =>
            {
                try
                {
                    var random = new Random(seed);
                    using var handle = test.Volume.OpenFile("/shared", FileAccess.Read);
                    var buffer = new byte[3 * sectorSize];
                    do
                    {
                        int offset = random.Next(total);
                        int n = handle.Read(offset, buffer.AsSpan(0, random.Next(1, buffer.Length)));
                        for (int i = 0; i < n; i++)
                        {
                            byte b = buffer[i];
                            if (b != before[offset + i] && b != after[offset + i])
                            {
                                throw new InvalidOperationException($"byte {offset + i} is neither the old nor the new value");
                            }
                        }
                    }
                    while (Volatile.Read(ref writersLeft) > 0);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }));
        }

        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);

        var expected = before.ToArray();
        after.AsSpan(0, total / stripe * stripe).CopyTo(expected);
        AssertSame(expected, test.ReadFile("/shared"), "after concurrent writes");
        test.Reopen();
        AssertSame(expected, test.ReadFile("/shared"), "after reopening");
        test.AssertBackingLength("/shared", total);
    }

    [Fact]
    public void Two_handles_and_a_hard_link_see_each_others_writes()
    {
        using var test = TestVolume.Create(sectorSize: 512, infrastructure: true);
        using var first = test.Volume.CreateFile("/a", FileMode);
        using var second = test.Volume.OpenFile("/a", FileAccess.ReadWrite);
        first.Write(0, "hello from first"u8);
        Assert.Equal(16, second.Length);
        Assert.Equal("hello from first"u8.ToArray(), Read(second, 0, 16));

        second.Write(600, "second"u8);
        Assert.Equal(606, first.Length);
        Assert.Equal("second"u8.ToArray(), Read(first, 600, 6));

        test.Volume.Link("/a", "/b");
        Assert.Equal(2u, test.Volume.GetStatus("/a").LinkCount);
        using (var linked = test.Volume.OpenFile("/b", FileAccess.ReadWrite))
        {
            Assert.Equal(606, linked.Length);
            linked.Write(6, " via link"u8);
            linked.SetLength(700);
        }

        Assert.Equal("hello  via link"u8.ToArray(), Read(first, 0, 15));
        Assert.Equal(700, second.Length);
        Assert.Equal(700, test.Volume.GetStatus("/b").Size);

        first.Dispose();
        second.Dispose();
        test.Volume.Unlink("/a");
        test.Reopen();
        var content = test.ReadFile("/b");
        Assert.Equal(700, content.Length);
        Assert.Equal("hello  via link"u8.ToArray(), content[..15]);
    }

    [Fact]
    public void An_unlinked_open_file_stays_usable()
    {
        using var test = TestVolume.Create();
        using var handle = test.Volume.CreateFile("/gone", FileMode);
        handle.Write(0, "still here"u8);
        test.Volume.Unlink("/gone");
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => test.Volume.GetStatus("/gone")).Errno);
        handle.Write(10, "!"u8);
        Assert.Equal("still here!"u8.ToArray(), Read(handle, 0, 11));
        // A new file of the same name is a different file.
        test.WriteFile("/gone", "new"u8);
        Assert.Equal("new"u8.ToArray(), test.ReadFile("/gone"));
        Assert.Equal(11, handle.Length);
    }

    private static byte[] Read(FileHandle handle, long offset, int count)
    {
        var buffer = new byte[count];
        Assert.Equal(count, handle.Read(offset, buffer));
        return buffer;
    }

    private static long RandomOffset(Random random, long size, int s) => random.Next(8) switch
    {
        0 => 0,
        1 => size,
        2 => (size / s) * s,
        3 => Math.Max(0, size - random.Next(1, 20)),
        _ => random.NextInt64(0, size + (3L * s) + 1),
    };

    private static int RandomLength(Random random, int s) => random.Next(20) switch
    {
        0 => 0,
        1 => random.Next(1, 17),
        2 => s,
        3 => 257 * s + random.Next(-3, 4), // longer than one engine chunk (256 sectors)
        _ => random.Next(1, 3 * s),
    };

    private static void AssertSame(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string context)
    {
        if (expected.SequenceEqual(actual))
        {
            return;
        }

        int first = expected.Length == actual.Length ? expected.CommonPrefixLength(actual) : -1;
        Assert.Fail($"{context}: content differs (expected {expected.Length} bytes, got {actual.Length}; first difference at {first})");
    }
}

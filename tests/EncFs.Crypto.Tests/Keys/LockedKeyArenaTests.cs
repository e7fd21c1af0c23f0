namespace EncFs.Crypto.Tests.Keys;

public sealed class LockedKeyArenaTests
{
    /// <summary>Asks the kernel: the key region is counted in the process's locked memory (VmLck).</summary>
    [Fact]
    public void SmallKeysLiveInLockedMemoryWherePermitted()
    {
        Assert.True(OperatingSystem.IsLinux(), "memory locking is tested on Linux");
        using var key = SecretKey.Generate(32);
        Assert.True(key.IsLocked, "mlock of the key region failed (RLIMIT_MEMLOCK too small?)");
        var locked = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("VmLck:", StringComparison.Ordinal));
        var kib = long.Parse(locked.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(kib >= 256, locked);
    }

    [Fact]
    public void SlotsAreReusedZeroedAndLargeKeysFallBack()
    {
        var first = SecretKey.Generate(64);
        first.Dispose();
        using var zeroed = SecretKey.Copy(new byte[16]);
        Assert.True(zeroed.Span.SequenceEqual(new byte[16]));
        using var large = SecretKey.Generate(100);
        Assert.False(large.IsLocked);
        Assert.Equal(100, large.Span.Length);
    }

    [Fact]
    public void ManyKeysFromManyThreadsStayDistinct()
    {
        var keys = new System.Collections.Concurrent.ConcurrentBag<SecretKey>();
        Parallel.For(0, 2000, _ => keys.Add(SecretKey.Generate(32)));
        Assert.Equal(2000, keys.Select(k => Convert.ToHexString(k.Span)).Distinct().Count());
        foreach (var key in keys)
        {
            key.Dispose();
        }
    }
}

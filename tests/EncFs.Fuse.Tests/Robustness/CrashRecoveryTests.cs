using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Robustness;

/// <summary>A daemon killed with SIGKILL: the stale mount is cleared by the next mount, fsync'd data survives.</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public void KillNineThenMountAgainKeepsSyncedData()
    {
        using var volume = MountedVolume.Create();
        var durable = TestData.Random(3_000_000 + 17);
        var dir = volume.PathOf("synced-dir");
        Directory.CreateDirectory(dir);
        using (var stream = new FileStream(Path.Combine(dir, "durable.bin"), FileMode.CreateNew))
        {
            stream.Write(durable);
            stream.Flush(flushToDisk: true); // fsync
        }

        File.WriteAllText(volume.PathOf("small"), "small and synced");
        using (var stream = new FileStream(volume.PathOf("small"), FileMode.Open))
        {
            stream.Flush(flushToDisk: true);
        }

        // A file overwritten in place and fsync'd: the new bytes are what must survive.
        var overwritten = volume.PathOf("overwritten");
        File.WriteAllBytes(overwritten, new byte[200_000]);
        var patch = TestData.Random(50_000);
        using (var handle = File.OpenHandle(overwritten, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(handle, patch, 70_000);
            RandomAccess.FlushToDisk(handle);
        }

        File.CreateSymbolicLink(volume.PathOf("link"), "synced-dir/durable.bin");
        Sys.SyncDirectory(dir);
        Sys.SyncDirectory(volume.MountPoint);

        // An unsynced writer is still busy when the daemon dies (no promise about its data).
        var unsynced = new FileStream(volume.PathOf("in-flight"), FileMode.CreateNew);
        unsynced.Write(TestData.Random(1_000_000));
        unsynced.Flush();

        volume.KillDaemon();
        var stale = Shell($"stat '{volume.MountPoint}'");
        Assert.NotEqual(0, stale.ExitCode);
        // ENOTCONN once the connection is gone; ECONNABORTED for a request caught as it was torn down.
        Assert.True(
            stale.Stderr.Contains("Transport endpoint is not connected", StringComparison.Ordinal)
                || stale.Stderr.Contains("Software caused connection abort", StringComparison.Ordinal),
            "stat of the dead mount: " + stale.Stderr);
        Assert.True(Mounts.IsMounted(volume.MountPoint), "the killed daemon's mount should be left stale");
        try
        {
            unsynced.Dispose();
        }
        catch (IOException)
        {
            // ENOTCONN on close: the daemon is gone
        }

        // `efs mount` on the same mount point notices the stale mount, clears it, and mounts.
        var mount = volume.Mount();
        Assert.Equal(1, Mounts.Count(volume.MountPoint)); // replaced, not stacked on the dead one
        Assert.Contains("Clearing stale mount", mount.Stderr, StringComparison.Ordinal);

        Assert.Equal(durable, File.ReadAllBytes(Path.Combine(dir, "durable.bin")));
        Assert.Equal("small and synced", File.ReadAllText(volume.PathOf("small")));
        var expected = new byte[200_000];
        patch.CopyTo(expected, 70_000);
        Assert.Equal(expected, File.ReadAllBytes(overwritten));
        Assert.Equal(durable, File.ReadAllBytes(volume.PathOf("link")));

        // The file that was in flight is whole or short, never unreadable garbage.
        if (File.Exists(volume.PathOf("in-flight")))
        {
            Assert.InRange(File.ReadAllBytes(volume.PathOf("in-flight")).Length, 0, 1_000_000);
        }

        // The volume takes writes again, and a clean unmount and mount keep them.
        File.WriteAllText(volume.PathOf("after"), "after the crash");
        volume.Remount();
        Assert.Equal("after the crash", File.ReadAllText(volume.PathOf("after")));
        Assert.Equal(durable, File.ReadAllBytes(Path.Combine(dir, "durable.bin")));
        Assert.Contains("Mounted", mount.Stderr, StringComparison.Ordinal);
    }
}

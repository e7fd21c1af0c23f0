using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Robustness;

/// <summary>SIGTERM and SIGINT unmount cleanly: the mount goes, the daemon exits and releases the volume, data stays.</summary>
public sealed class SignalTests
{
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    [InlineData("HUP")]
    public void SignalUnmountsCleanly(string signal)
    {
        using var volume = MountedVolume.Create();
        var data = TestData.Random(2_000_003);
        File.WriteAllBytes(volume.PathOf("kept.bin"), data);
        var pid = volume.DaemonPid() ?? throw new InvalidOperationException("no daemon");

        Shell($"kill -{signal} {pid}").EnsureSuccess();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((Mounts.IsMounted(volume.MountPoint) || Directory.Exists($"/proc/{pid}")) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }

        Assert.False(Mounts.IsMounted(volume.MountPoint), $"still mounted after SIG{signal}\n{volume.Log}");
        Assert.False(Directory.Exists($"/proc/{pid}"), $"daemon still running after SIG{signal}");
        Assert.Contains("Unmounted", volume.Log, StringComparison.Ordinal);

        // The lock is released: the volume mounts again at once, with the data.
        volume.Mount();
        Assert.Equal(data, File.ReadAllBytes(volume.PathOf("kept.bin")));
    }
}

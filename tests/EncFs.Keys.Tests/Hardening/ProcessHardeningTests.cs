using EncFs.Keys.Hardening;

namespace EncFs.Keys.Tests.Hardening;

public sealed class ProcessHardeningTests
{
    /// <summary>Asks the kernel back (PR_GET_DUMPABLE): a process holding keys must not be dumpable.</summary>
    [Fact]
    public void ProcessBecomesNonDumpable()
    {
        Assert.True(OperatingSystem.IsLinux(), "process hardening is tested on Linux");
        ProcessHardening.MakeNonDumpable();
        Assert.False(ProcessHardening.IsDumpable);
    }
}

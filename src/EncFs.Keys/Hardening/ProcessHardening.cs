using System.Runtime.InteropServices;

namespace EncFs.Keys.Hardening;

/// <summary>
/// Keeps keys out of core dumps and other processes' reach: a process that holds keys is made
/// non-dumpable (no core file, no ptrace attach by the same user, /proc/PID/mem closed).
/// </summary>
public static partial class ProcessHardening
{
    private const int PR_SET_DUMPABLE = 4, PR_GET_DUMPABLE = 3;

    public static void MakeNonDumpable()
    {
        if (OperatingSystem.IsLinux() && Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_DUMPABLE) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public static bool IsDumpable => !OperatingSystem.IsLinux() || Prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
}

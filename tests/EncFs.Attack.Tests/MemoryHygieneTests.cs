namespace EncFs.Attack.Tests;

/// <summary>
/// A daemon that holds keys never leaves a core file: whoever later reads the disk finds no
/// memory image with keys in it. Checked against a control: an ordinary .NET process killed
/// the same way, from the same directory with the same limit, does dump core.
/// </summary>
public sealed class MemoryHygieneTests
{
    // SIGXCPU's default action is a core dump, and the .NET runtime does not intercept it.
    private const string CoreSignal = "XCPU";

    [Fact]
    public void KilledDaemonLeavesNoCoreFileWhereAnOrdinaryDotnetProcessDoes()
    {
        Assert.Equal("core", File.ReadAllText("/proc/sys/kernel/core_pattern").Trim());
        using var scratch = new ScratchDirectory();
        var dir = scratch.Path;

        // Control: a .NET process that did not make itself non-dumpable (an F# script host).
        File.WriteAllText(Path.Combine(dir, "sleep.fsx"), "System.IO.File.WriteAllText(\"ready\", \"\")\nSystem.Threading.Thread.Sleep 120000\n");
        var control = ProcessRunner.Shell(
            // fsi.dll run directly: `dotnet fsi` would start it as a child of the muxer, and the signal would hit the muxer.
            "fsi=$(ls \"$(dirname \"$(readlink -f \"$(command -v dotnet)\")\")\"/sdk/*/FSharp/fsi.dll | tail -n 1)\n"
            + $"ulimit -c unlimited; dotnet exec \"$fsi\" sleep.fsx & pid=$!; for i in $(seq 600); do [ -f ready ] && break; sleep 0.1; done; kill -{CoreSignal} $pid; wait $pid || true; ls",
            dir,
            TimeSpan.FromMinutes(2)).EnsureSuccess();
        Assert.Contains("core", control.Stdout, StringComparison.Ordinal);
        foreach (var core in Directory.GetFiles(dir, "core*"))
        {
            File.Delete(core);
        }

        // The daemon, started from the same directory with the same limit, killed while it holds keys.
        var backing = Path.Combine(dir, "backing");
        var mount = Path.Combine(dir, "mnt");
        var key = Path.Combine(dir, "key");
        File.WriteAllText(key, new string('5', 64));
        Directory.CreateDirectory(mount);
        ProcessRunner.Efs("init", backing, "--key-file", key).EnsureSuccess();
        ProcessRunner.Shell($"ulimit -c unlimited; dotnet '{ProcessRunner.EfsDll}' mount '{backing}' '{mount}' --key-file '{key}'", dir).EnsureSuccess();
        try
        {
            File.WriteAllText(Path.Combine(mount, "secret.txt"), "keys are in the daemon's memory now");
            var pid = ProcessRunner.Run("pgrep", ["-f", $"efs.dll mount {backing} {mount}"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single();
            Assert.Contains("unlimited", ProcessRunner.Shell($"grep 'Max core file size' /proc/{pid}/limits").Stdout, StringComparison.Ordinal);
            ProcessRunner.Shell($"kill -{CoreSignal} {pid}; for i in $(seq 100); do [ -d /proc/{pid} ] || break; sleep 0.1; done; [ ! -d /proc/{pid} ]").EnsureSuccess();
            Assert.Empty(Directory.GetFiles(dir, "core*"));
        }
        finally
        {
            ProcessRunner.Run("umount", ["-l", mount]);
        }
    }
}

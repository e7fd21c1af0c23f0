using System.Diagnostics;
using System.Text;

namespace EncFs.Crypto.Tests.Oracles;

/// <summary>Runs an external oracle program to completion, feeding stdin and capturing output.</summary>
internal static class ProcessRunner
{
    public readonly record struct Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>
    /// Runs <paramref name="fileName"/> with <paramref name="arguments"/> (passed as an argv list,
    /// no shell quoting), writes <paramref name="stdin"/>, and waits up to <paramref name="timeout"/>.
    /// Fails the test (never skips) if the program is missing or hangs.
    /// </summary>
    public static Result Run(string fileName, IEnumerable<string> arguments, string? stdin = null, TimeSpan? timeout = null)
    {
        if (!File.Exists(fileName))
        {
            Assert.Fail($"Oracle program {fileName} is not installed; these tests need it as an independent reference (see the message of the helper that called this for the Debian package).");
        }

        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        // A predictable environment: no user site-packages or PYTHONPATH leaking another install in.
        psi.Environment.Remove("PYTHONPATH");
        psi.Environment.Remove("PYTHONHOME");
        psi.Environment["PYTHONNOUSERSITE"] = "1";

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}.");

        // Read both pipes concurrently with writing stdin, so a large output cannot deadlock us.
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
        }

        process.StandardInput.Close();

        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(120);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"Oracle {fileName} {string.Join(' ', arguments)} did not finish within {limit}.");
        }

        process.WaitForExit(); // flush the async readers
        return new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}

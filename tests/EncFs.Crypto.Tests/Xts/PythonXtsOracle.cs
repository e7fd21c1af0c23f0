using System.Diagnostics;
using System.Text;

namespace EncFs.Crypto.Tests.Xts;

/// <summary>
/// An independent AES-XTS: Debian's python3-cryptography, run once per batch of requests.
/// Each request is a line "enc|dec KEYHEX DATAUNIT DATAHEX"; each answer a line of hex.
/// </summary>
internal static class PythonXtsOracle
{
    // Debian's interpreter explicitly: a python3 first on PATH may lack the distribution's module.
    public const string Interpreter = "/usr/bin/python3";

    private const string Script = """
        import sys
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        out = []
        for line in sys.stdin:
            op, key, unit, data = line.split()
            tweak = int(unit).to_bytes(16, "little")  # IEEE 1619: data unit number, little-endian
            cipher = Cipher(algorithms.AES(bytes.fromhex(key)), modes.XTS(tweak))
            ctx = cipher.encryptor() if op == "enc" else cipher.decryptor()
            out.append((ctx.update(bytes.fromhex(data)) + ctx.finalize()).hex())
        sys.stdout.write("\n".join(out) + "\n")
        """;

    private const string InstallHint =
        "The XTS oracle tests need Debian's python3 with python3-cryptography (apt-get install python3-cryptography).";

    public static string Request(bool encrypt, byte[] key, ulong unit, byte[] data) =>
        $"{(encrypt ? "enc" : "dec")} {Convert.ToHexString(key)} {unit} {Convert.ToHexString(data)}";

    /// <summary>Runs all requests in one process; fails the test (never skips) if the oracle is missing.</summary>
    public static byte[][] Run(IReadOnlyList<string> requests)
    {
        Assert.True(File.Exists(Interpreter), $"{Interpreter} not found. {InstallHint}");

        var start = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{Interpreter} did not start.");

        // Read both pipes while writing, so that neither side blocks on a full pipe.
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        WriteRequests(process, requests);

        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            Assert.Fail("The python XTS oracle did not finish within 2 minutes.");
        }

        Assert.True(
            process.ExitCode == 0,
            $"The python XTS oracle failed (exit {process.ExitCode}): {errors.Result.Trim()}\n{InstallHint}");

        string[] lines = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(requests.Count, lines.Length);
        return [.. lines.Select(Convert.FromHexString)];
    }

    private static void WriteRequests(Process process, IReadOnlyList<string> requests)
    {
        try
        {
            foreach (string request in requests)
            {
                process.StandardInput.WriteLine(request);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The interpreter died early (e.g. missing module); the exit code and stderr tell why.
        }
    }
}

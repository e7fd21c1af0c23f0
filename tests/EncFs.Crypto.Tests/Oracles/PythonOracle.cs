using System.Text.Json;
using System.Text.Json.Nodes;

namespace EncFs.Crypto.Tests.Oracles;

/// <summary>
/// Debian's python3-cryptography as an independent reference implementation.
/// </summary>
/// <remarks>
/// Always <c>/usr/bin/python3</c>: a <c>python3</c> earlier on PATH (pyenv, venv) may be another
/// install without the module. A missing interpreter or module FAILS the test with a message
/// saying what to install; it never skips, so CI cannot go green without the oracle.
/// Protocol: one process per batch; the script reads one JSON document from stdin (bytes as
/// hex strings) and prints one JSON document to stdout.
/// </remarks>
internal static class PythonOracle
{
    public const string Interpreter = "/usr/bin/python3";

    private const int MissingModuleExit = 97;

    private const string Preamble = """
        import sys, json
        try:
            import cryptography
        except ImportError as e:
            sys.stderr.write("python3-cryptography is not importable: %s\n" % e)
            sys.exit(97)
        def h(s): return bytes.fromhex(s)
        def x(b): return b.hex()
        """;

    /// <summary>Runs <paramref name="script"/> (after a preamble defining <c>h</c>/<c>x</c> hex helpers) with <paramref name="input"/> as JSON on stdin.</summary>
    public static JsonNode Run(string script, JsonNode input)
    {
        if (!File.Exists(Interpreter))
        {
            Assert.Fail($"{Interpreter} not found: install Debian's python3 and python3-cryptography (apt-get install python3-cryptography); it is the independent oracle for these tests.");
        }

        string program = Preamble + "\n" + script;
        ProcessRunner.Result r = ProcessRunner.Run(Interpreter, ["-I", "-c", program], input.ToJsonString());
        if (r.ExitCode == MissingModuleExit)
        {
            Assert.Fail($"Debian's python3-cryptography is missing for {Interpreter} ({r.StdErr.Trim()}); install it with: apt-get install python3-cryptography");
        }

        if (r.ExitCode != 0)
        {
            Assert.Fail($"Python oracle failed (exit {r.ExitCode}):\n{r.StdErr}");
        }

        try
        {
            return JsonNode.Parse(r.StdOut) ?? throw new JsonException("null document");
        }
        catch (JsonException e)
        {
            Assert.Fail($"Python oracle printed something that is not JSON ({e.Message}):\n{r.StdOut}\n{r.StdErr}");
            throw; // unreachable
        }
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static byte[] Bytes(JsonNode? hex) => Convert.FromHexString((string?)hex ?? throw new InvalidOperationException("missing hex field"));
}

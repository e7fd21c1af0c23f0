using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EncFs.Keys.Tests.Pkcs11;

/// <summary>
/// A private SoftHSM2 (Debian's softhsm2): its own SOFTHSM2_CONF and token directory, one token
/// 'efs-test' (user PIN 1234, SO PIN 5678). Missing SoftHSM2 fails the tests, never skips them.
/// </summary>
public sealed partial class SoftHsm : IDisposable
{
    public const string Module = "/usr/lib/softhsm/libsofthsm2.so";
    public const string TokenLabel = "efs-test";
    public const string Pin = "1234";
    public const string SoPin = "5678";

    public SoftHsm()
    {
        if (!File.Exists(Module))
        {
            throw new InvalidOperationException($"{Module} is missing: install Debian's softhsm2 (scripts/install-deps.sh does)");
        }

        Directory = Path.Combine(Path.GetTempPath(), "efs-softhsm-" + Guid.NewGuid().ToString("N")[..12]);
        var tokens = Path.Combine(Directory, "tokens");
        System.IO.Directory.CreateDirectory(tokens);
        ConfigPath = Path.Combine(Directory, "softhsm2.conf");
        File.WriteAllText(ConfigPath, $"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");

        // The module reads SOFTHSM2_CONF with getenv(3) when it is initialised; .NET keeps its own
        // copy of the environment, so set the native one too.
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", ConfigPath);
        if (SetEnv("SOFTHSM2_CONF", ConfigPath, 1) != 0)
        {
            throw new InvalidOperationException("setenv(SOFTHSM2_CONF) failed");
        }

        Run("softhsm2-util", "--init-token", "--free", "--label", TokenLabel, "--pin", Pin, "--so-pin", SoPin);
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    public static string Uri(string keyLabel, string? token = null, string module = Module) =>
        $"pkcs11:token={token ?? TokenLabel};object={keyLabel}?module-path={module}";

    /// <summary>Runs a tool with this SoftHSM's configuration; throws on failure.</summary>
    public string Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SOFTHSM2_CONF"] = ConfigPath;
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {tool}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is missing: install Debian's softhsm2 and opensc (scripts/install-deps.sh does)", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr}");
            }

            return stdout.Result + stderr;
        }
    }

    /// <summary>Deletes a secret key object from the token with OpenSC's pkcs11-tool (an outside revocation).</summary>
    public void DeleteKey(string label) =>
        Run("pkcs11-tool", "--module", Module, "--token-label", TokenLabel, "--login", "--pin", Pin, "--delete-object", "--type", "secrkey", "--label", label);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}

[CollectionDefinition(Name)]
public sealed class SoftHsmCollection : ICollectionFixture<SoftHsm>
{
    public const string Name = "SoftHSM2";
}

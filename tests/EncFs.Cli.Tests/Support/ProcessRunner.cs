using System.Diagnostics;

namespace EncFs.Cli.Tests.Support;

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs real processes: the efs command as built, and the independent oracles.</summary>
public static class ProcessRunner
{
    public static ProcessResult Run(string fileName, IEnumerable<string> arguments, string? stdin = null, TimeSpan? timeout = null) =>
        Run(fileName, arguments, null, stdin, timeout);

    /// <summary>Runs with extra (or, with a null value, removed) environment variables.</summary>
    public static ProcessResult Run(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment, string? stdin = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Platform keys of test volumes go to a scratch keystore, never the machine's.
        info.Environment["EFS_KEYSTORE"] = TestKeystore;
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish");
        }

        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string TestKeystore { get; } = Path.Combine(Path.GetTempPath(), "efs-test-keystore-" + Environment.ProcessId);

    /// <summary>The efs command built beside the tests.</summary>
    public static ProcessResult Efs(params string[] arguments) => EfsWithInput(null, arguments);

    public static ProcessResult EfsWithInput(string? stdin, params string[] arguments) => EfsWithEnvironment(null, stdin, arguments);

    public static ProcessResult EfsWithEnvironment(IReadOnlyDictionary<string, string?>? environment, string? stdin, params string[] arguments) =>
        Run("dotnet", [EfsDll, .. arguments], environment, stdin);

    /// <summary>
    /// efs.dll in the EncFs.Cli project's own output directory, with all its dependencies (the
    /// copy beside the tests lacks the Microsoft.Extensions.* assemblies that the ASP.NET Core
    /// shared framework of the fake Key Vault supplies to the tests but not to efs).
    /// </summary>
    public static string EfsDll { get; } = FindEfsDll();

    private static string FindEfsDll()
    {
        var directory = typeof(ProcessRunner).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "EfsOutputDirectory")?.Value;
        var dll = directory is null ? null : Path.Combine(directory, "efs.dll");
        return dll is not null && File.Exists(dll) ? dll : Path.Combine(AppContext.BaseDirectory, "efs.dll");
    }

    /// <summary>Debian's python3, which carries python3-cryptography (another python3 on PATH may not).</summary>
    public static string DebianPython
    {
        get
        {
            const string path = "/usr/bin/python3";
            if (!File.Exists(path))
            {
                throw new InvalidOperationException("/usr/bin/python3 is missing: install Debian's python3 and python3-cryptography (.ci/run does)");
            }

            return path;
        }
    }

    public static string RepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EncFs.sln")))
            {
                return Path.Combine([dir.FullName, .. parts]);
            }
        }

        throw new InvalidOperationException("cannot find the repository root (EncFs.sln) above " + AppContext.BaseDirectory);
    }
}

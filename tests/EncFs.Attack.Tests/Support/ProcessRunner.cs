using System.Diagnostics;

namespace EncFs.Attack.Tests.Support;

public sealed record ProcessResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"$ {Command}\nexit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";

    /// <summary>Fails the test with the whole output unless the command succeeded.</summary>
    public ProcessResult EnsureSuccess()
    {
        Assert.True(ExitCode == 0, ToString());
        return this;
    }
}

/// <summary>Runs real processes: the efs command as built, the shell and the system's tools.</summary>
public static class ProcessRunner
{
    public static ProcessResult Run(
        string fileName,
        IEnumerable<string> arguments,
        string? stdin = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var command = fileName + " " + string.Join(' ', info.ArgumentList);
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
            throw new TimeoutException($"{command} did not finish in time");
        }

        process.WaitForExit();
        return new ProcessResult(command, process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The efs command built beside the tests.</summary>
    public static ProcessResult Efs(params string[] arguments) =>
        Run("dotnet", [EfsDll, .. arguments], timeout: TimeSpan.FromSeconds(60));

    public static string EfsDll => Path.Combine(AppContext.BaseDirectory, "efs.dll");

    /// <summary>A bash script (set -euo pipefail), optionally in a working directory.</summary>
    public static ProcessResult Shell(string script, string? workingDirectory = null, TimeSpan? timeout = null) =>
        Run("bash", ["-c", "set -euo pipefail\n" + script], timeout: timeout, workingDirectory: workingDirectory);

    /// <summary>Debian's python3 (the tests use only its standard library).</summary>
    public static ProcessResult Python(string script, params string[] arguments)
    {
        const string python = "/usr/bin/python3";
        Tools.Require(python, "python3");
        return Run(python, ["-c", script, .. arguments]);
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

/// <summary>The system tools the tests drive; a missing one fails with the package to install.</summary>
public static class Tools
{
    public static void Require(string command, string package)
    {
        bool found = command.Contains('/', StringComparison.Ordinal)
            ? File.Exists(command)
            : (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Any(dir => File.Exists(Path.Combine(dir, command)));
        Assert.True(found, $"'{command}' is missing: install the Debian package '{package}' (scripts/install-deps.sh does)");
    }
}

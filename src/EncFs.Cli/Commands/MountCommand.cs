using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Fuse;
using EncFs.Fuse.Mounting;
using EncFs.Keys.Hardening;
using EncFs.Service.Control;
using Microsoft.Extensions.Logging;

namespace EncFs.Cli.Commands;

/// <summary>
/// efs mount: opens the volume and serves it through FUSE. In the background by default: the
/// command starts a daemon (a new session) and returns once the mount is ready, or with the
/// daemon's error.
/// </summary>
internal static class MountCommand
{
    private const string ReadyLine = "efs-ready";

    public static Command Create()
    {
        var backing = new Argument<string>("backing") { Description = "The volume's backing directory" };
        var mountPoint = new Argument<string>("mountpoint") { Description = "An empty directory where the plaintext appears" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "Stay in the foreground (services, debugging); Ctrl-C unmounts" };
        var mountOptions = new Option<string[]>("-o") { Description = "Mount options, comma-separated: allow_other, nonempty", AllowMultipleArgumentsPerToken = false };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every mount event (debug level)" };
        var logFile = new Option<string?>("--log-file") { Description = "Where the background daemon writes its log (default: discarded once mounted)" };
        var notifyReady = new Option<bool>("--notify-ready") { Hidden = true };
        var controlSocket = new Option<string?>("--control-socket") { Description = "Where this mount's control socket listens (default: /run/efs/mount-<pid>.sock for root, $XDG_RUNTIME_DIR/efs otherwise)" };
        var keyCheck = new Option<int>("--key-check-interval")
        {
            Description = "Seconds between checks that each scope's KEK is still granted at its source (revocation locks the scope)",
            DefaultValueFactory = _ => (int)KeyCheckSchedule.Default.RevocationInterval.TotalSeconds,
        };
        var keyTimeout = new Option<double>("--key-timeout")
        {
            Description = "Seconds a key source (HSM, vault) may take to give a scope's key; a slower one leaves that scope locked and the rest served",
            DefaultValueFactory = _ => KeySourceCall.DefaultTimeout.TotalSeconds,
        };
        keyTimeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is not (> 0 and <= 86400))
            {
                r.AddError("--key-timeout must be more than 0 and at most 86400 seconds");
            }
        });
        keyCheck.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--key-check-interval must be at least 1 second");
            }
        });
        var audit = ScopeCommand.AuditOption();
        var credentials = new CredentialOptions();
        var command = new Command("mount", "Mount a volume: the plaintext appears at the mount point") { backing, mountPoint, foreground, mountOptions, verbose, logFile, notifyReady, controlSocket, keyCheck, keyTimeout, audit };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var dir = Path.GetFullPath(result.GetRequiredValue(backing));
            var target = Path.GetFullPath(result.GetRequiredValue(mountPoint));
            var options = ParseOptions(result.GetValue(mountOptions) ?? []);
            if (!result.GetValue(foreground))
            {
                return LaunchDaemon(result, credentials, dir, target);
            }

            ProcessHardening.MakeNonDumpable();
            using var loggers = Logging.Create(result.GetValue(verbose));
            var logger = loggers.CreateLogger("efs");

            // A bad mount point is refused before the volume is opened: no key derivation, and the
            // backing directory (its lock file included) is not touched.
            FuseMounter.CheckMountPoint(target, options, logger);
            using var keySource = credentials.KeySource(result);
            using var volume = EncryptedVolume.Open(dir, keySource, new VolumeOpenOptions
            {
                Logger = logger,
                Audit = ScopeCommand.OpenAudit(result, audit),
                KeySourceTimeout = TimeSpan.FromSeconds(result.GetValue(keyTimeout)),
            });

            // Argon2id's tens of MiB are garbage now: give them back before serving for hours.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            using var host = FuseHost.Mount(volume, target, options, logger);
            using var signals = new SignalHandlers(host.RequestUnmount);
            var schedule = KeyCheckSchedule.Default with { RevocationInterval = TimeSpan.FromSeconds(result.GetValue(keyCheck)) };
            using var control = new VolumeControl(volume, host, schedule, logger);
            using var server = StartControl(result.GetValue(controlSocket), control, host, logger);
            volume.AnnounceControlSocket(server.Path);
            if (result.GetValue(notifyReady))
            {
                Console.Out.WriteLine(ReadyLine);
                Console.Out.Flush();
                Daemonize.DetachStandardStreams(result.GetValue(logFile));
            }

            control.ResumeInterruptedWork();

            host.Run();
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The mount's control socket; a path in use refuses the mount (nothing stays mounted).</summary>
    private static ControlServer StartControl(string? path, VolumeControl control, FuseHost host, ILogger logger)
    {
        if (path is null)
        {
            RemoveSocketsOfDeadDaemons(ControlClient.RuntimeDirectory());
        }

        var socket = path ?? Path.Combine(ControlClient.RuntimeDirectory(), $"mount-{Environment.ProcessId}.sock");
        try
        {
            return ControlServer.Start(socket, MountControl.Handler(control, host.RequestUnmount), logger);
        }
        catch (ControlSocketException e)
        {
            host.RequestUnmount();
            host.Run();
            throw new UsageException(e.Message, e);
        }
    }

    /// <summary>A daemon killed outright leaves its socket behind: the next mount sweeps those whose process is gone.</summary>
    private static void RemoveSocketsOfDeadDaemons(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (var socket in Directory.EnumerateFiles(directory, "mount-*.sock"))
        {
            var name = Path.GetFileNameWithoutExtension(socket);
            if (int.TryParse(name["mount-".Length..], out int pid) && !Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    File.Delete(socket);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Someone else's, or gone meanwhile: not ours to sweep.
                }
            }
        }
    }

    private static FuseMountOptions ParseOptions(string[] values)
    {
        var options = new FuseMountOptions();
        foreach (var option in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            options = option switch
            {
                "allow_other" => options with { AllowOther = true },
                "nonempty" => options with { NonEmpty = true },
                "default_permissions" or "rw" => options,
                _ => throw new UsageException($"unknown mount option '{option}' (known: allow_other, nonempty)"),
            };
        }

        return options;
    }

    /// <summary>Starts `efs mount --foreground` in a new session and waits for its ready line.</summary>
    private static int LaunchDaemon(ParseResult result, CredentialOptions credentials, string backing, string mountPoint)
    {
        string? secret = null;
        var arguments = new List<string> { "mount", backing, mountPoint, "--foreground", "--notify-ready" };
        foreach (var value in result.GetValue<string[]>("-o") ?? [])
        {
            arguments.AddRange(["-o", value]);
        }

        if (result.GetValue<bool>("--verbose"))
        {
            arguments.Add("--verbose");
        }

        if (result.GetValue<string?>("--log-file") is { } log)
        {
            arguments.AddRange(["--log-file", Path.GetFullPath(log)]);
        }

        if (result.GetValue<string?>("--control-socket") is { } socket)
        {
            arguments.AddRange(["--control-socket", Path.GetFullPath(socket)]);
        }

        arguments.AddRange(["--key-check-interval", result.GetValue<int>("--key-check-interval").ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        arguments.AddRange(["--key-timeout", result.GetValue<double>("--key-timeout").ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (result.GetValue<string?>("--audit-log") is { } auditLog)
        {
            arguments.AddRange(["--audit-log", Path.GetFullPath(auditLog)]);
        }

        foreach (var keyFile in result.GetValue(credentials.KeyFile) ?? [])
        {
            arguments.AddRange(["--key-file", keyFile == "-" ? "-" : Path.GetFullPath(keyFile)]);
            if (keyFile == "-")
            {
                secret = Console.In.ReadToEnd();
            }
        }

        if (result.GetValue(credentials.Keystore) is { } keystore)
        {
            arguments.AddRange(["--keystore", Path.GetFullPath(keystore)]);
        }

        if (result.GetValue(credentials.PinFile) is { } pinFile)
        {
            // The PKCS#11 PIN: a file is passed on by name; '-' is read here and handed over on stdin.
            if (pinFile != "-")
            {
                arguments.AddRange(["--pin-file", Path.GetFullPath(pinFile)]);
            }
            else if (secret is null)
            {
                secret = Console.In.ReadToEnd();
                arguments.AddRange(["--pin-file", "-"]);
            }
        }

        var passphraseFile = result.GetValue(credentials.PassphraseFile);
        if (passphraseFile is not null && passphraseFile != "-")
        {
            arguments.AddRange(["--passphrase-file", Path.GetFullPath(passphraseFile)]);
        }
        else if (secret is null && (passphraseFile == "-" || !Console.IsInputRedirected))
        {
            using var passphrase = credentials.ReadPassphrase(result);
            if (passphrase is not null)
            {
                secret = System.Text.Encoding.UTF8.GetString(passphrase.Span);
                arguments.AddRange(["--passphrase-file", "-"]);
            }
        }

        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the efs executable");
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(Environment.GetCommandLineArgs()[0]); // the entry assembly, under the dotnet host
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var daemon = Process.Start(info) ?? throw new InvalidOperationException("cannot start the mount daemon");
        var errors = daemon.StandardError.ReadToEndAsync();
        daemon.StandardInput.Write(secret ?? string.Empty);
        daemon.StandardInput.Close();
        var line = daemon.StandardOutput.ReadLine();
        if (line == ReadyLine)
        {
            // Warnings the daemon logged on its way up (a stale mount it cleared, say) are the
            // user's to see: its standard error ends once it detaches, right after the ready line.
            if (errors.Wait(TimeSpan.FromSeconds(2)))
            {
                foreach (var warning in errors.Result.Split('\n').Where(IsWarning))
                {
                    Console.Error.WriteLine(warning);
                }
            }

            Console.Error.WriteLine($"Mounted {backing} at {mountPoint} (daemon pid {daemon.Id}); 'efs unmount {mountPoint}' to stop");
            return ExitCodes.Ok;
        }

        daemon.WaitForExit();
        Console.Error.Write(errors.Result);
        return daemon.ExitCode == ExitCodes.Ok ? ExitCodes.Failure : daemon.ExitCode;
    }

    private static bool IsWarning(string logLine) =>
        logLine.Contains(" warn: ", StringComparison.Ordinal) || logLine.Contains(" fail: ", StringComparison.Ordinal) || logLine.Contains(" crit: ", StringComparison.Ordinal);

    /// <summary>SIGINT, SIGTERM and SIGHUP unmount cleanly instead of killing the daemon.</summary>
    private sealed class SignalHandlers : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;

        public SignalHandlers(Action unmount)
        {
            _registrations = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(signal =>
                PosixSignalRegistration.Create(signal, context =>
                {
                    context.Cancel = true;
                    unmount();
                }))];
        }

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }
        }
    }
}

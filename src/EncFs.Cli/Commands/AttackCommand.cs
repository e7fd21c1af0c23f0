using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using EncFs.Attack;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Keys;
using EncFs.Core.Volume;
using EncFs.Keys.Provided;

namespace EncFs.Cli.Commands;

/// <summary>
/// efs attack: what an attacker holding the medium learns. Exit 0 when no plaintext, name or key
/// leak is found, 3 when one is, 2 for bad input, 1 for other failures.
/// </summary>
internal static class AttackCommand
{
    public const int Leak = 3;

    public static Command Create()
    {
        var backing = new Argument<string>("backing") { Description = "The backing directory to examine (a copy of the medium: it is only read)" };
        var known = new Option<string?>("--known") { Description = "The plaintext tree that was written through the mount: none of its contents or names may appear" };
        var earlier = new Option<string?>("--earlier") { Description = "An older copy of the backing directory: report which files and sectors changed" };
        var keys = new Option<string?>("--keys") { Description = "A file of hex keys, one per line (test use): none may appear on the medium, raw, hex or base64" };
        var json = new Option<string?>("--json") { Description = "Write the findings as JSON to this file ({findings:[{kind,severity,path,evidence}], summary})" };
        var html = new Option<string?>("--html") { Description = "Write a self-contained HTML report to this file" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No table on the terminal, only the verdict" };
        var tamper = new Option<bool>("--tamper")
        {
            Description = "Also tamper with scratch copies (bit flip, sector swaps, truncation, rollback to --earlier, a foreign header) and report what reads with the right key return; needs the credentials (--key-file, --passphrase-file, --keystore)",
        };
        var credentials = new CredentialOptions();
        var command = new Command("attack", "Examine a backing directory as an attacker holding the medium would: plaintext, name and key leaks, randomness, structure, snapshot changes, and with --tamper active tampering on scratch copies (exit 3 on a leak)")
        {
            backing, known, earlier, keys, json, html, quiet, tamper,
        };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            if (!result.GetValue(tamper) && (result.GetValue(credentials.KeyFile)?.FirstOrDefault() ?? result.GetValue(credentials.PassphraseFile) ?? result.GetValue(credentials.Keystore) ?? result.GetValue(credentials.PinFile)) is not null)
            {
                throw new UsageException("credentials are used only with --tamper: the passive attack never reads a key");
            }

            var progress = new ProgressPrinter();
            var options = new AttackOptions(result.GetRequiredValue(backing))
            {
                Known = result.GetValue(known),
                Earlier = result.GetValue(earlier),
                KeysFile = result.GetValue(keys),
                Progress = progress.Report,
            };
            AttackReport report;
            try
            {
                report = AttackAnalyzer.Run(options);
                if (result.GetValue(tamper))
                {
                    using var keySource = credentials.KeySource(result);
                    Tampering.Run(report, new TamperOptions(options.Backing, keySource, CreateForeignVolume) { Earlier = options.Earlier });
                }
            }
            catch (KeyAccessException e)
            {
                throw new UsageException("--tamper: the volume cannot be opened with the credentials given: " + e.Message, e);
            }
            catch (AttackInputException e)
            {
                throw new UsageException(e.Message, e);
            }
            catch (Exception e) when (e is not (UsageException or IOException or UnauthorizedAccessException or OutOfMemoryException))
            {
                // Anything unexpected is a failure of the tool (exit 1), never mistaken for "no leak".
                Console.Error.WriteLine($"efs: attack failed: {e.GetType().Name}: {e.Message}");
                return ExitCodes.Failure;
            }

            progress.Done();
            if (result.GetValue(json) is { } jsonFile)
            {
                File.WriteAllText(jsonFile, ReportWriter.ToJson(report));
            }

            if (result.GetValue(html) is { } htmlFile)
            {
                File.WriteAllText(htmlFile, ReportWriter.ToHtml(report));
            }

            Console.Write(result.GetValue(quiet) ? ReportWriter.Verdict(report) + Environment.NewLine : ReportWriter.ToTable(report));
            bool tamperBug = report.Findings.Any(f => f.Kind == Tampering.Kind && f.Severity >= Severity.High);
            return report.HasLeak || tamperBug ? Leak : ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>A throwaway volume under a random provided key: its header replaces the examined volume's in a scratch copy.</summary>
    private static void CreateForeignVolume(string directory, VolumeCreateOptions options)
    {
        var key = RandomNumberGenerator.GetBytes(ProvidedKeySource.KeySize);
        try
        {
            var (descriptor, kek) = ProvidedKeySource.Create(key);
            using (kek)
            {
                EncryptedVolume.Create(directory, options, descriptor, kek);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Bytes scanned / total on stderr every few seconds, for long scans only.</summary>
    private sealed class ProgressPrinter
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _next = TimeSpan.FromSeconds(3);
        private bool _printed;

        public void Report(long scanned, long total)
        {
            if (_clock.Elapsed < _next)
            {
                return;
            }

            _next = _clock.Elapsed + TimeSpan.FromSeconds(3);
            _printed = true;
            double percent = total == 0 ? 100 : 100.0 * scanned / total;
            Console.Error.WriteLine(FormattableString.Invariant($"efs attack: scanned {scanned / 1048576.0:0.0} / {total / 1048576.0:0.0} MiB ({percent:0}%)"));
        }

        public void Done()
        {
            if (_printed)
            {
                Console.Error.WriteLine(FormattableString.Invariant($"efs attack: scan done in {_clock.Elapsed.TotalSeconds:0.0} s"));
            }
        }
    }
}

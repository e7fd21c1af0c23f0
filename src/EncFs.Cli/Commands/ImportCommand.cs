using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using EncFs.Cli.Infrastructure;
using EncFs.Core.Import;
using EncFs.Core.Volume;
using EncFs.Keys.Hardening;

namespace EncFs.Cli.Commands;

/// <summary>efs import: encrypt an existing plaintext tree into an (unmounted) volume, resumably.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("plaintext-dir") { Description = "The existing plaintext directory (only read)" };
        var backing = new Argument<string>("backing") { Description = "The volume's backing directory (unmounted)" };
        var target = new Option<string>("--to") { Description = "Where in the volume the tree goes", DefaultValueFactory = _ => "/" };
        var scope = new Option<string?>("--scope") { Description = "Scope of the imported entries (default: the target directory's)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var credentials = new CredentialOptions();
        var command = new Command("import", "Encrypt existing plaintext data into a volume; safe to interrupt, run again to resume") { source, backing, target, scope, json };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ProcessHardening.MakeNonDumpable();
            var from = Path.GetFullPath(result.GetRequiredValue(source));
            if (!Directory.Exists(from))
            {
                throw new UsageException($"'{from}' is not a directory");
            }

            using var keys = credentials.KeySource(result);
            using var volume = EncryptedVolume.Open(Path.GetFullPath(result.GetRequiredValue(backing)), keys);
            using var cancel = new CancellationTokenSource();
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                cancel.Cancel();
            });
            var bar = new ProgressBar();
            try
            {
                var done = new TreeImporter(volume, result.GetValue(scope)).Run(from, result.GetRequiredValue(target), bar, cancel.Token);
                bar.Finish(done);
                if (result.GetValue(json))
                {
                    Console.WriteLine(new JsonObject
                    {
                        ["files"] = done.FilesDone,
                        ["bytes"] = done.BytesDone,
                        ["skipped"] = done.FilesSkipped,
                    }.ToJsonString());
                }

                return ExitCodes.Ok;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine("efs: import interrupted; nothing is lost (the source is untouched): run the same command again to resume");
                return ExitCodes.Failure;
            }
        }));
        return command;
    }

    /// <summary>A one-line progress bar on stderr, redrawn at most every 200 ms.</summary>
    private sealed class ProgressBar : IProgress<ImportProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastDraw = -1000;

        public void Report(ImportProgress value)
        {
            if (_clock.ElapsedMilliseconds - _lastDraw < 200)
            {
                return;
            }

            _lastDraw = _clock.ElapsedMilliseconds;
            Draw(value);
        }

        public void Finish(ImportProgress value)
        {
            Draw(value);
            Console.Error.WriteLine();
            Console.Error.WriteLine($"Imported {value.FilesDone} files ({value.FilesSkipped} already there), {Format(value.BytesDone)} in {_clock.Elapsed.TotalSeconds:F1} s");
        }

        private void Draw(ImportProgress value)
        {
            double fraction = value.BytesTotal > 0 ? (double)value.BytesDone / value.BytesTotal : value.FilesTotal > 0 ? (double)value.FilesDone / value.FilesTotal : 1;
            int filled = (int)(fraction * 30);
            var rate = value.BytesDone / Math.Max(0.001, _clock.Elapsed.TotalSeconds);
            Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', 30 - filled)}] {fraction,4:P0} {value.FilesDone}/{value.FilesTotal} files {Format(value.BytesDone)}/{Format(value.BytesTotal)} {Format((long)rate)}/s ");
        }

        private static string Format(long bytes) => bytes switch
        {
            >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
            >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
            >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
            _ => $"{bytes} B",
        };
    }
}

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
        var inPlace = new Option<bool>("--in-place")
        {
            Description = "Remove each plaintext file once its encrypted copy is synced and read back identical (journal: <plaintext-dir>/" + ImportJournal.FileName + ")",
        };
        var shred = new Option<bool>("--shred")
        {
            Description = "With --in-place: overwrite each file with zeros before removing it (best effort only: not on SSDs, copy-on-write filesystems or journals; see docs/IMPORT.md)",
        };
        var credentials = new CredentialOptions();
        var command = new Command("import", "Encrypt existing plaintext data into a volume; safe to interrupt, run again to resume") { source, backing, target, scope, json, inPlace, shred };
        credentials.AddTo(command);
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ProcessHardening.MakeNonDumpable();
            var from = Path.GetFullPath(result.GetRequiredValue(source));
            var backingDir = Path.GetFullPath(result.GetRequiredValue(backing));
            if (!Directory.Exists(from))
            {
                throw new UsageException($"'{from}' is not a directory");
            }

            if (result.GetValue(shred) && !result.GetValue(inPlace))
            {
                throw new UsageException("--shred only applies with --in-place (the copy import never changes the source)");
            }

            try
            {
                ImportPaths.CheckSeparate(from, backingDir);
            }
            catch (ImportRefusedException e)
            {
                throw new UsageException(e.Message, e);
            }

            if (!result.GetValue(inPlace) && ImportJournal.ExistsIn(from))
            {
                throw new UsageException($"an in-place import of '{from}' is unfinished ({ImportJournal.FileName}): finish it with --in-place");
            }

            if (result.GetValue(inPlace) && ImportJournal.ExistsIn(from))
            {
                // Before the volume is opened (which may create its lock file): a refusal changes nothing.
                try
                {
                    ImportJournal.CheckBelongsTo(from, BackingInspector.ReadHeader(backingDir).VolumeId, result.GetRequiredValue(target));
                }
                catch (ImportRefusedException e)
                {
                    throw new UsageException(e.Message, e);
                }
            }

            using var keys = credentials.KeySource(result);
            using var volume = EncryptedVolume.Open(backingDir, keys);
            using var cancel = new CancellationTokenSource();
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                cancel.Cancel();
            });
            var bar = new ProgressBar();
            try
            {
                if (result.GetValue(inPlace))
                {
                    return RunInPlace(volume, from, backingDir, result.GetRequiredValue(target), result.GetValue(scope), result.GetValue(shred), result.GetValue(json), bar, cancel.Token);
                }

                var done = new TreeImporter(volume, result.GetValue(scope)).Run(from, result.GetRequiredValue(target), bar, cancel.Token);
                bar.Finish(done, $"Imported {done.FilesDone} files ({done.FilesSkipped} already there)");
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
                Console.Error.WriteLine(result.GetValue(inPlace)
                    ? "efs: import interrupted; every file is either still plaintext or encrypted and verified: run the same command again to finish"
                    : "efs: import interrupted; nothing is lost (the source is untouched): run the same command again to resume");
                return ExitCodes.Failure;
            }
        }));
        return command;
    }

    private static int RunInPlace(EncryptedVolume volume, string from, string backingDir, string target, string? scope, bool shred, bool json, ProgressBar bar, CancellationToken cancel)
    {
        InPlaceImportResult done;
        try
        {
            done = new InPlaceImporter(volume, scope, shred) { Checkpoint = CrashCheckpoint() }.Run(from, target, bar, cancel);
        }
        catch (ImportRefusedException e)
        {
            throw new UsageException(e.Message, e);
        }

        var progress = done.Progress;
        bar.Finish(progress, $"Moved {done.FilesMoved} of {progress.FilesDone} files into the volume ({progress.FilesSkipped} already there), {done.Symlinks} symlinks, {done.HardLinks} hard links kept; {done.Shredded} overwritten; {done.DirectoriesRemoved} empty directories removed");
        foreach (var left in done.LeftBehind)
        {
            Console.Error.WriteLine($"efs: left as plaintext: {left.Path}: {left.Reason}");
        }

        foreach (var linked in done.LinkedOutside)
        {
            Console.Error.WriteLine($"efs: warning: {linked} had hard links outside the tree: its plaintext is still there under those names");
        }

        if (done.Complete)
        {
            Console.Error.WriteLine($"No plaintext is left in '{from}': it is empty and can serve as the mount point: efs mount {backingDir} {from}");
        }
        else
        {
            Console.Error.WriteLine($"efs: {done.LeftBehind.Count} entries left as plaintext (above); '{ImportJournal.PathIn(from)}' keeps the record: deal with them and run the same command again");
        }

        if (json)
        {
            var leftBehind = new JsonArray();
            foreach (var left in done.LeftBehind)
            {
                leftBehind.Add(new JsonObject { ["path"] = left.Path, ["reason"] = left.Reason });
            }

            Console.WriteLine(new JsonObject
            {
                ["files"] = progress.FilesDone,
                ["moved"] = done.FilesMoved,
                ["bytes"] = progress.BytesDone,
                ["skipped"] = progress.FilesSkipped,
                ["symlinks"] = done.Symlinks,
                ["hardLinks"] = done.HardLinks,
                ["shredded"] = done.Shredded,
                ["directoriesRemoved"] = done.DirectoriesRemoved,
                ["complete"] = done.Complete,
                ["leftBehind"] = leftBehind,
                ["linkedOutside"] = new JsonArray([.. done.LinkedOutside.Select(p => JsonValue.Create(p))]),
            }.ToJsonString());
        }

        return done.Complete ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>
    /// EFS_IMPORT_CRASH_AT=step:n kills the process with SIGKILL the n-th time the step completes:
    /// the crash tests use it to stop an import between any two of its steps, as a power cut would.
    /// Inert unless EFS_TEST_HOOKS=1 is set too, so a stray variable cannot kill a real import.
    /// </summary>
    private static Action<string>? CrashCheckpoint()
    {
        if (Environment.GetEnvironmentVariable("EFS_TEST_HOOKS") != "1"
            || Environment.GetEnvironmentVariable("EFS_IMPORT_CRASH_AT") is not { } setting
            || setting.Split(':') is not [var step, var countText] || !int.TryParse(countText, out var count))
        {
            return null;
        }

        return reached =>
        {
            if (reached == step && --count == 0)
            {
                Process.GetCurrentProcess().Kill();
            }
        };
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

        public void Finish(ImportProgress value, string summary)
        {
            Draw(value);
            Console.Error.WriteLine();
            Console.Error.WriteLine($"{summary}, {Format(value.BytesDone)} in {_clock.Elapsed.TotalSeconds:F1} s");
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

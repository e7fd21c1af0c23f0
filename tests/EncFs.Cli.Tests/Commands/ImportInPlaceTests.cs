using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Crypto;
using EncFs.Keys;

namespace EncFs.Cli.Tests.Commands;

/// <summary>
/// efs import --in-place, run as a real process: the tree moves into the volume intact, the
/// plaintext goes; a SIGKILL between any two steps loses nothing and a rerun finishes; a file
/// written to meanwhile stays; refusals change nothing.
/// </summary>
public sealed class ImportInPlaceTests
{
    private const string KeyHex = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    private const string JournalName = ".efs-import-journal";
    private const string UnicodeName = "nested/ünïcødé ファイル.txt";

    [Fact]
    public void MovesTheTreeAndLeavesAnEmptyMountPoint()
    {
        using var tree = Tree.Create();
        var topModified = File.GetLastWriteTimeUtc(tree.Plain("top.txt"));
        var outside = tree.Temp.Combine("outside-name");
        Assert.Equal(0, ProcessRunner.Run("ln", [tree.Plain("top.txt"), outside]).ExitCode);

        var result = tree.Import();

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = JsonNode.Parse(result.Stdout)!;
        Assert.True(summary["complete"]!.GetValue<bool>());
        Assert.Equal(tree.Files.Count, summary["moved"]!.GetValue<int>());
        Assert.Equal(1, summary["hardLinks"]!.GetValue<int>());
        Assert.Equal(1, summary["symlinks"]!.GetValue<int>());
        Assert.Contains("can serve as the mount point", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("/nested/hard", Assert.Single(summary["linkedOutside"]!.AsArray())!.GetValue<string>());
        Assert.Contains("had hard links outside the tree", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(tree.Files["top.txt"], File.ReadAllBytes(outside));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.Source));

        using (var volume = tree.OpenVolume())
        {
            tree.AssertVolumeHoldsEverything(volume);
            var stored = volume.GetStatus("/top.txt");
            Assert.Equal(topModified, stored.ModifyTime.ToDateTimeOffset().UtcDateTime);
            Assert.Equal(Convert.ToUInt32("640", 8), stored.Mode & 0xFFF);
            Assert.Equal(stored.Inode, volume.GetStatus("/nested/hard").Inode);
            Assert.True(volume.GetStatus("/nested/deeper/emptydir").IsDirectory);
        }

        tree.AssertNoPlaintextNamesInBacking();

        // The emptied plaintext directory is the mount point: the kernel shows the same tree there.
        var mount = ProcessRunner.Efs("mount", tree.Backing, tree.Source, "--key-file", tree.Key);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        try
        {
            foreach (var (path, bytes) in tree.Files)
            {
                Assert.Equal(bytes, File.ReadAllBytes(tree.Plain(path)));
            }

            Assert.Equal("nested/deeper/big.bin", new FileInfo(tree.Plain("link")).LinkTarget);
        }
        finally
        {
            Assert.Equal(0, ProcessRunner.Efs("unmount", tree.Source).ExitCode);
        }
    }

    [Theory]
    [InlineData("chunk", 2, false)]
    [InlineData("copied", 1, false)]
    [InlineData("copied", 4, false)]
    [InlineData("verified", 1, false)]
    [InlineData("verified", 3, false)]
    [InlineData("removed", 2, false)]
    [InlineData("directory", 1, false)]
    [InlineData("verified", 2, true)]
    [InlineData("shredded", 1, true)]
    [InlineData("shredded", 3, true)]
    public void AKillBetweenAnyTwoStepsLosesNothingAndARerunFinishes(string step, int occurrence, bool shred)
    {
        using var tree = Tree.Create();
        string[] extra = shred ? ["--shred"] : [];

        var crashed = tree.Import(CrashAt($"{step}:{occurrence}"), extra);

        Assert.True(crashed.ExitCode == 137, "expected death by SIGKILL: " + crashed);
        Assert.True(File.Exists(tree.Plain(JournalName)), "the journal records the unfinished import");
        tree.AssertEveryFileIsSomewhere();
        tree.AssertNoPlaintextNamesInBacking();

        var rerun = tree.Import(null, extra);

        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.Source));
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void RepeatedKillsStillConverge()
    {
        using var tree = Tree.Create();
        int runs = 0;
        ProcessResult result;
        do
        {
            Assert.True(++runs <= 12, "the import never finished");
            result = tree.Import(CrashAt("removed:2"));
            if (result.ExitCode != 0)
            {
                Assert.Equal(137, result.ExitCode);
                tree.AssertEveryFileIsSomewhere();
            }
        }
        while (result.ExitCode != 0);

        Assert.True(runs > 2, $"only {runs} runs: the crash hook did not fire");
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void AKillFromOutsideInTheMiddleOfABigFileLosesNothing()
    {
        using var tree = Tree.Create();
        var big = new byte[96 << 20];
        new Random(5).NextBytes(big);
        File.WriteAllBytes(tree.Plain("nested/huge.bin"), big);
        tree.Files["nested/huge.bin"] = big;

        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { ProcessRunner.EfsDll, "import", "--in-place", tree.Source, tree.Backing, "--key-file", tree.Key })
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["EFS_KEYSTORE"] = ProcessRunner.TestKeystore;
        using (var process = Process.Start(info)!)
        {
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (BackingBytes(tree.Backing) < 16 << 20 && !process.HasExited && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(5);
            }

            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Equal(137, process.ExitCode);
        }

        Assert.True(File.Exists(tree.Plain("nested/huge.bin")), "the import finished before the kill: the test proved nothing");
        tree.AssertEveryFileIsSomewhere();

        var rerun = tree.Import();
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.Source));
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void AnotherFilesystemMountedInTheTreeIsNotCrossed()
    {
        using var tree = Tree.Create();
        var mountPoint = tree.Plain("nested/other-fs");
        Directory.CreateDirectory(mountPoint);
        var mount = ProcessRunner.Run("mount", ["-t", "tmpfs", "efs-import-test", mountPoint]);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        try
        {
            File.WriteAllText(Path.Combine(mountPoint, "elsewhere.txt"), "on another filesystem");

            var result = tree.Import();

            Assert.True(result.ExitCode == 1, result.ToString());
            var left = Assert.Single(JsonNode.Parse(result.Stdout)!["leftBehind"]!.AsArray());
            Assert.Equal("/nested/other-fs", left!["path"]!.GetValue<string>());
            Assert.StartsWith("another filesystem", left["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("on another filesystem", File.ReadAllText(Path.Combine(mountPoint, "elsewhere.txt")));
            using var volume = tree.OpenVolume();
            tree.AssertVolumeHoldsEverything(volume);
        }
        finally
        {
            Assert.Equal(0, ProcessRunner.Run("umount", [mountPoint]).ExitCode);
        }
    }

    [Fact]
    public void AFileWrittenDuringTheImportIsNotRemoved()
    {
        using var tree = Tree.Create();
        var growing = tree.Plain("nested/grow.log");
        File.WriteAllText(growing, "start\n");
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                File.AppendAllText(growing, "more\n");
            }
        });
        writer.Start();

        ProcessResult during;
        try
        {
            during = tree.Import();
        }
        finally
        {
            stop.Cancel();
            writer.Join();
        }

        Assert.True(during.ExitCode == 1, during.ToString());
        var left = Assert.Single(JsonNode.Parse(during.Stdout)!["leftBehind"]!.AsArray());
        Assert.Equal("/nested/grow.log", left!["path"]!.GetValue<string>());
        Assert.StartsWith("changed during the import", left["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("left as plaintext: /nested/grow.log", during.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(growing));
        Assert.True(File.Exists(tree.Plain(JournalName)));
        tree.AssertEveryFileIsSomewhere();

        // Quiet now: the rerun takes the file as it finally is.
        var final = File.ReadAllBytes(growing);
        var rerun = tree.Import();
        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.Source));
        using var volume = tree.OpenVolume();
        Assert.Equal(final, Tree.ReadAll(volume, "/nested/grow.log"));
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void RefusalsExitWithTwoAndChangeNothing()
    {
        using var tree = Tree.Create();
        var file = tree.Plain("top.txt");
        var other = tree.Temp.Combine("other-vol");
        Assert.Equal(0, ProcessRunner.Efs("init", other, "--key-file", tree.Key).ExitCode);
        Directory.CreateDirectory(Path.Combine(tree.Backing, "inner"));
        File.WriteAllText(Path.Combine(tree.Backing, "inner", "x"), "x");
        var backingLink = tree.Temp.Combine("backing-link");
        File.CreateSymbolicLink(backingLink, tree.Backing);
        var holdsVolume = tree.Temp.Combine("holds");
        Directory.CreateDirectory(holdsVolume);
        File.WriteAllText(Path.Combine(holdsVolume, "data"), "data");
        var nestedVolume = Path.Combine(holdsVolume, "vol");
        Assert.Equal(0, ProcessRunner.Efs("init", nestedVolume, "--key-file", tree.Key).ExitCode);

        var cases = new (string[] Arguments, string Message)[]
        {
            (["import", "--in-place", file, tree.Backing], "is not a directory"),
            (["import", "--in-place", tree.Temp.Combine("missing"), tree.Backing], "is not a directory"),
            (["import", "--in-place", Path.Combine(tree.Backing, "inner"), tree.Backing], "inside it"),
            (["import", "--in-place", backingLink, tree.Backing], "inside it"),
            (["import", "--in-place", holdsVolume, nestedVolume], "is inside"),
            (["import", "--shred", tree.Source, tree.Backing], "--shred only applies with --in-place"),
            (["import", holdsVolume, nestedVolume], "is inside"),
        };
        foreach (var (arguments, message) in cases)
        {
            var before = Snapshot(tree.Temp.Path);
            var result = ProcessRunner.Efs([.. arguments, "--key-file", tree.Key]);
            Assert.True(result.ExitCode == 2, string.Join(' ', arguments) + ": " + result);
            Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before, Snapshot(tree.Temp.Path));
        }

        // An unfinished in-place import belongs to its volume: neither another volume nor a
        // copy import may touch that tree until it is finished.
        var crashed = tree.Import(CrashAt("verified:2"));
        Assert.Equal(137, crashed.ExitCode);
        foreach (var (arguments, message) in new (string[], string)[]
        {
            (["import", "--in-place", tree.Source, other], "records an unfinished in-place import"),
            (["import", tree.Source, tree.Backing], "finish it with --in-place"),
        })
        {
            var before = Snapshot(tree.Temp.Path);
            var result = ProcessRunner.Efs([.. arguments, "--key-file", tree.Key]);
            Assert.True(result.ExitCode == 2, string.Join(' ', arguments) + ": " + result);
            Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before, Snapshot(tree.Temp.Path));
        }

        Assert.Equal(0, tree.Import().ExitCode);
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void TheCrashHookIsInertWithoutTheTestHooksVariable()
    {
        using var tree = Tree.Create();

        var result = tree.Import(new Dictionary<string, string?> { ["EFS_IMPORT_CRASH_AT"] = "removed:1" });

        Assert.True(result.ExitCode == 0, result.ToString());
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void AFailureAfterTheJournalIsOpenExitsWithOneAndARerunFinishes()
    {
        using var tree = Tree.Create();
        var stuck = tree.Plain("empty");
        Assert.Equal(0, ProcessRunner.Run("chattr", ["+i", stuck]).ExitCode);
        ProcessResult failed;
        try
        {
            failed = tree.Import();
        }
        finally
        {
            Assert.Equal(0, ProcessRunner.Run("chattr", ["-i", stuck]).ExitCode);
        }

        // The immutable file cannot be renamed away (EPERM): by then other files have moved.
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Contains("run the same command again", failed.Stderr, StringComparison.Ordinal);
        tree.AssertEveryFileIsSomewhere();

        var rerun = tree.Import();

        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        using var volume = tree.OpenVolume();
        tree.AssertVolumeHoldsEverything(volume);
    }

    [Fact]
    public void AnImportOfADirectoryAnotherImportHoldsExitsWithTwoAndChangesNothing()
    {
        using var tree = Tree.Create();
        Assert.Equal(137, tree.Import(CrashAt("verified:2")).ExitCode);

        ProcessResult refused;
        var before = Snapshot(tree.Source);
        using (new FileStream(tree.Plain(JournalName), FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            // .NET locks a file it opens unshared with flock(LOCK_EX), as a running import does.
            refused = tree.Import();
        }

        Assert.Equal(before, Snapshot(tree.Source));
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("another import", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, tree.Import().ExitCode);
    }

    /// <summary>The environment that makes the import kill itself the n-th time a step completes.</summary>
    private static Dictionary<string, string?> CrashAt(string stepAndCount) =>
        new() { ["EFS_TEST_HOOKS"] = "1", ["EFS_IMPORT_CRASH_AT"] = stepAndCount };

    private static long BackingBytes(string backing)
    {
        try
        {
            return Directory.EnumerateFiles(backing, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        }
        catch (IOException)
        {
            // A file the running import replaced between listing and stat: look again next time.
            return 0;
        }
    }

    /// <summary>Every entry under a directory with its type, size, modification time and content hash.</summary>
    private static string Snapshot(string root)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(path);
            string content = info.LinkTarget is { } target ? "-> " + target
                : Directory.Exists(path) ? "dir"
                : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
            lines.Add($"{Path.GetRelativePath(root, path)} {content} {File.GetLastWriteTimeUtc(path).Ticks}");
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    /// <summary>A plaintext tree with every kind of entry the import handles, and a volume to move it into.</summary>
    private sealed class Tree : IDisposable
    {
        private Tree()
        {
            Source = Temp.Combine("plain");
            Backing = Temp.Combine("vol");
            Key = Temp.Combine("key");
        }

        public TempDirectory Temp { get; } = new();

        public string Source { get; }

        public string Backing { get; }

        public string Key { get; }

        /// <summary>Regular files by path relative to the source, with their content.</summary>
        public Dictionary<string, byte[]> Files { get; } = [];

        public static Tree Create()
        {
            var tree = new Tree();
            Directory.CreateDirectory(Path.Combine(tree.Source, "nested", "deeper", "emptydir"));
            var random = new Random(11);
            foreach (var (path, size) in new[] { ("top.txt", 10), ("empty", 0), ("nested/deeper/big.bin", 3 << 20), (UnicodeName, 5000) })
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                File.WriteAllBytes(tree.Plain(path), bytes);
                tree.Files[path] = bytes;
            }

            File.CreateSymbolicLink(tree.Plain("link"), "nested/deeper/big.bin");
            Assert.Equal(0, ProcessRunner.Run("ln", [tree.Plain("top.txt"), tree.Plain("nested/hard")]).ExitCode);
            Assert.Equal(0, ProcessRunner.Run("chmod", ["640", tree.Plain("top.txt")]).ExitCode);
            tree.Files["nested/hard"] = tree.Files["top.txt"];
            File.WriteAllText(tree.Key, KeyHex);
            var init = ProcessRunner.Efs("init", tree.Backing, "--key-file", tree.Key);
            Assert.True(init.ExitCode == 0, init.ToString());
            return tree;
        }

        public string Plain(string relative) => Path.Combine(Source, relative);

        public ProcessResult Import(IReadOnlyDictionary<string, string?>? environment = null, params string[] extra) =>
            ProcessRunner.EfsWithEnvironment(environment, null, ["import", "--in-place", Source, Backing, "--key-file", Key, "--json", .. extra]);

        public EncryptedVolume OpenVolume()
        {
            var keys = new CredentialKeySource(providedKey: SecretKey.Copy(Convert.FromHexString(KeyHex)));
            return EncryptedVolume.Open(Backing, keys, new VolumeOpenOptions { ReadOnly = true });
        }

        public void AssertVolumeHoldsEverything(EncryptedVolume volume)
        {
            foreach (var (path, bytes) in Files)
            {
                Assert.Equal(bytes, ReadAll(volume, "/" + path));
            }

            Assert.Equal("nested/deeper/big.bin", volume.ReadSymlink("/link"));
        }

        /// <summary>The crash invariant: each file is intact in the volume, or else intact as plaintext.</summary>
        public void AssertEveryFileIsSomewhere()
        {
            using var volume = OpenVolume();
            foreach (var (path, bytes) in Files)
            {
                bool inVolume = TryReadAll(volume, "/" + path) is { } stored && stored.AsSpan().SequenceEqual(bytes);
                Assert.True(inVolume || (File.Exists(Plain(path)) && File.ReadAllBytes(Plain(path)).AsSpan().SequenceEqual(bytes)), $"{path} is lost");
            }

            bool linkInVolume = TryReadLink(volume, "/link") == "nested/deeper/big.bin";
            Assert.True(linkInVolume || new FileInfo(Plain("link")).LinkTarget == "nested/deeper/big.bin", "the symlink is lost");
        }

        /// <summary>The journal stays on the plaintext side: no plaintext name reaches the backing directory.</summary>
        public void AssertNoPlaintextNamesInBacking()
        {
            var names = new[] { "ünïcødé", "big.bin", "top.txt", "emptydir" }.Select(Encoding.UTF8.GetBytes).ToArray();
            foreach (var path in Directory.EnumerateFileSystemEntries(Backing, "*", SearchOption.AllDirectories))
            {
                var nameBytes = Encoding.UTF8.GetBytes(Path.GetFileName(path));
                var content = File.Exists(path) && new FileInfo(path).LinkTarget is null ? File.ReadAllBytes(path) : [];
                foreach (var name in names)
                {
                    Assert.False(nameBytes.AsSpan().IndexOf(name) >= 0 || content.AsSpan().IndexOf(name) >= 0, $"a plaintext name in {path}");
                }
            }
        }

        public static byte[] ReadAll(EncryptedVolume volume, string path)
        {
            using var handle = volume.OpenFile(path, FileAccess.Read);
            var bytes = new byte[handle.Length];
            Assert.Equal(bytes.Length, handle.Read(0, bytes));
            return bytes;
        }

        public void Dispose() => Temp.Dispose();

        private static byte[]? TryReadAll(EncryptedVolume volume, string path)
        {
            try
            {
                return ReadAll(volume, path);
            }
            catch (FsException e) when (e.Errno == Errno.ENOENT)
            {
                return null;
            }
        }

        private static string? TryReadLink(EncryptedVolume volume, string path)
        {
            try
            {
                return volume.ReadSymlink(path);
            }
            catch (FsException e) when (e.Errno == Errno.ENOENT)
            {
                return null;
            }
        }
    }
}

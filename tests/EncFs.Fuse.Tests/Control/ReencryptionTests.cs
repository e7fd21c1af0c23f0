using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Fuse.Tests.Support;

namespace EncFs.Fuse.Tests.Control;

/// <summary>
/// efs key reencrypt after a DEK rotation: live in the daemon while files stay open, offline,
/// and killed at arbitrary points: nothing is lost, every file ends under the new generation.
/// </summary>
public sealed class ReencryptionTests
{
    [Fact]
    public void TheDaemonRewritesOldFilesInTheBackgroundWhileTheyStayUsable()
    {
        using var volume = MountedVolume.Create();
        var big = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 123);
        File.WriteAllBytes(volume.PathOf("big"), big);
        File.WriteAllText(volume.PathOf("small"), "small file");
        ProcessRunner.Shell($"""
            set -e
            cd {volume.MountPoint}
            setfattr -n user.note -v tagged small
            ln -s small link
            ln big big-link
            truncate -s 64M sparse
            echo tail >> sparse
            """).EnsureSuccess();
        var sparseBacking = SingleBackingFileLargerThan(volume.Backing, 60L << 20);
        long allocatedBefore = AllocatedBytes(sparseBacking);

        ProcessRunner.Efs("key", "rotate", volume.MountPoint, "--new-dek").EnsureSuccess();
        var open = new FileStream(volume.PathOf("small"), FileMode.Open, FileAccess.ReadWrite);
        var run = ProcessRunner.Efs("key", "reencrypt", volume.MountPoint, "--wait", "--json");
        Assert.True(run.ExitCode == 0, run + "\n" + volume.Log);
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("done", report["state"]!.GetValue<string>());
        Assert.Equal(3, report["filesRewritten"]!.GetValue<int>()); // big (once for both names), small, sparse
        Assert.Equal(1, report["symlinksRewritten"]!.GetValue<int>());
        Assert.Contains("destroyed by a pass on the unmounted volume", report["kept"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        foreach (var name in new[] { "big", "big-link", "small", "sparse" })
        {
            Assert.Equal(2, Generation(volume.PathOf(name)));
        }

        Assert.Equal(big, File.ReadAllBytes(volume.PathOf("big")));
        Assert.Equal(big, File.ReadAllBytes(volume.PathOf("big-link")));
        Assert.Equal("tagged", ProcessRunner.Run("getfattr", ["--only-values", "-n", "user.note", volume.PathOf("small")]).EnsureSuccess().Stdout);
        Assert.Equal("small", ProcessRunner.Run("readlink", [volume.PathOf("link")]).EnsureSuccess().Stdout.Trim());
        Assert.Equal("tail\n", File.ReadAllText(volume.PathOf("sparse"))[(64 << 20)..]);
        Assert.True(AllocatedBytes(sparseBacking) <= allocatedBefore + (1 << 20), "holes were filled in by the re-encryption");

        // The handle opened before goes on under the new keys.
        open.Position = open.Length;
        open.Write(" and more"u8);
        open.Dispose();
        Assert.Equal("small file and more", File.ReadAllText(volume.PathOf("small")));
        volume.Remount();
        Assert.Equal(big, File.ReadAllBytes(volume.PathOf("big")));
    }

    [Fact]
    public void KilledMidFileTheFileIsRolledBackAndTheNextMountFinishesTheJob()
    {
        using var volume = MountedVolume.Create(mount: false);
        var source = Path.Combine(volume.Root, "plain");
        Directory.CreateDirectory(source);
        var files = Enumerable.Range(0, 4).ToDictionary(i => $"f{i}", _ => RandomNumberGenerator.GetBytes(48 << 20));
        foreach (var (name, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(source, name), bytes);
        }

        ProcessRunner.Efs("import", source, volume.Backing, "--key-file", volume.KeyFile).EnsureSuccess();
        ProcessRunner.Efs("key", "rotate", volume.Backing, "--new-dek", "--key-file", volume.KeyFile).EnsureSuccess();

        // Killed while a file is half rewritten: its undo record is there at that moment.
        var undo = Path.Combine(volume.Backing, "efs.reencrypt.undo");
        using (var job = StartOfflineReencryption(volume))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(undo) && !job.HasExited)
            {
                Assert.True(DateTime.UtcNow < deadline, "no file rewrite started");
            }

            Thread.Sleep(30); // into the rewrite of the file's sectors
            job.Kill();
            job.WaitForExit();
        }

        Assert.True(File.Exists(undo), "the kill came after the file was committed: nothing was interrupted");

        // The next open rolls the file back from its record; the mount resumes the job.
        Assert.True(File.Exists(Path.Combine(volume.Backing, "efs.reencrypt.job")));
        var mounted = volume.Mount();
        Assert.Contains("rolled back to its previous keys", mounted.Stderr + volume.Log, StringComparison.Ordinal);
        foreach (var (name, bytes) in files)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(volume.PathOf(name))), $"{name} differs after the interrupted re-encryption\n{volume.Log}");
        }

        var resumeDeadline = DateTime.UtcNow.AddSeconds(60);
        while (files.Keys.Any(name => Generation(volume.PathOf(name)) != 2))
        {
            Assert.True(DateTime.UtcNow < resumeDeadline, "the mount did not resume the re-encryption\n" + volume.Log);
            Thread.Sleep(250);
        }

        Assert.Contains("Resuming the re-encryption", volume.Log, StringComparison.Ordinal);
        foreach (var (name, bytes) in files)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(volume.PathOf(name))), name);
        }

        Assert.False(File.Exists(Path.Combine(volume.Backing, "efs.reencrypt.undo")));
    }

    [Fact]
    public void AFileRenamedWhileBeingRewrittenIsRolledBackAfterACrash()
    {
        using var volume = MountedVolume.Create();
        var data = RandomNumberGenerator.GetBytes(256 << 20);
        File.WriteAllBytes(volume.PathOf("large"), data);
        ProcessRunner.Efs("key", "rotate", volume.MountPoint, "--new-dek").EnsureSuccess();

        // Mid-rewrite (watched from before the request goes out): the file is renamed through
        // the mount, then the daemon dies.
        var undo = Path.Combine(volume.Backing, "efs.reencrypt.undo");
        using var daemon = Process.GetProcessById(volume.DaemonPid()!.Value);
        using var request = Process.Start(new ProcessStartInfo("dotnet", [ProcessRunner.EfsDll, "key", "reencrypt", volume.MountPoint]) { RedirectStandardError = true })!;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(undo))
        {
            Assert.True(DateTime.UtcNow < deadline, "the rewrite did not start\n" + volume.Log);
        }

        File.Move(volume.PathOf("large"), volume.PathOf("renamed"));
        daemon.Kill(); // SIGKILL
        daemon.WaitForExit();
        Assert.True(File.Exists(undo), "the rewrite committed before the kill: nothing was interrupted");

        var deadSocket = $"/run/efs/mount-{daemon.Id}.sock";
        Assert.True(File.Exists(deadSocket), "a daemon killed outright leaves its socket behind");
        var mounted = volume.Mount();
        Assert.Contains("rolled back to its previous keys", mounted.Stderr + volume.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(deadSocket), "the killed daemon's control socket was not swept by the next mount");
        Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(volume.PathOf("renamed"))), "the renamed file was not restored\n" + volume.Log);
        Assert.False(File.Exists(Path.Combine(volume.Backing, "efs.reencrypt.target")));
    }

    [Fact]
    public void OfflineReencryptionRekeysDirectoriesSurvivesKillsAndDestroysTheOldGeneration()
    {
        using var volume = MountedVolume.Create();
        var longName = new string('L', 200);
        var names = Enumerable.Range(0, 1500).Select(i => i % 100 == 0 ? $"{longName}-{i}" : $"file-{i}").ToList();
        ProcessRunner.Shell($"""
            set -e
            cd {volume.MountPoint}
            mkdir -p tree/sub/deeper
            setfattr -n user.label -v on-a-directory tree
            for n in {string.Join(' ', names)}; do echo "$n" > "tree/sub/$n"; done
            echo deep > tree/sub/deeper/x
            ln -s sub/deeper/x tree/link
            """, timeout: TimeSpan.FromMinutes(3)).EnsureSuccess();
        var times = File.GetLastWriteTimeUtc(volume.PathOf("tree", "sub"));
        ProcessRunner.Efs("key", "rotate", volume.MountPoint, "--new-dek").EnsureSuccess();

        // Live, the daemon rewrites files and symlinks; directories keep generation 1.
        var live = JsonNode.Parse(ProcessRunner.Efs("key", "reencrypt", volume.MountPoint, "--wait", "--json").EnsureSuccess().Stdout)!;
        Assert.Equal(names.Count + 1, live["filesRewritten"]!.GetValue<int>());
        Assert.Empty(live["destroyed"]!.AsArray());
        volume.Unmount();

        // Offline, killed while a directory is being re-keyed (its marker is there): the next open rolls it forward.
        var marker = Path.Combine(volume.Backing, "efs.rekey.dir");
        using (var job = StartOfflineReencryption(volume))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(marker) && !job.HasExited)
            {
                Assert.True(DateTime.UtcNow < deadline, "no directory re-key started");
            }

            job.Kill();
            job.WaitForExit();
        }

        Assert.True(File.Exists(marker), "the kill came after the re-key finished: nothing was interrupted");
        var run = ProcessRunner.Efs("key", "reencrypt", volume.Backing, "--key-file", volume.KeyFile, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("default generation 1", Assert.Single(report["destroyed"]!.AsArray())!.GetValue<string>());
        var scope = JsonNode.Parse(ProcessRunner.Efs("scope", "list", volume.Backing, "--json").EnsureSuccess().Stdout)!["scopes"]![0]!;
        Assert.Equal(2, scope["dekGeneration"]!.GetValue<int>());

        volume.Mount();
        var listed = Directory.GetFiles(volume.PathOf("tree", "sub")).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal).ToList(), listed);
        foreach (var name in names.Where((_, i) => i % 37 == 0).Append(names[0]))
        {
            Assert.Equal(name + "\n", File.ReadAllText(volume.PathOf("tree", "sub", name)));
        }

        Assert.Equal("deep\n", File.ReadAllText(volume.PathOf("tree", "link")));
        Assert.Equal("on-a-directory", ProcessRunner.Run("getfattr", ["--only-values", "-n", "user.label", volume.PathOf("tree")]).EnsureSuccess().Stdout);
        Assert.Equal(times, File.GetLastWriteTimeUtc(volume.PathOf("tree", "sub")));
        foreach (var path in new[] { "/", "tree", "tree/sub", "tree/sub/deeper", "tree/sub/deeper/x", "tree/sub/file-7" })
        {
            Assert.Equal(2, Generation(Path.Combine(volume.MountPoint, path.TrimStart('/'))));
        }

        Assert.False(File.Exists(Path.Combine(volume.Backing, "efs.rekey.dir")));
    }

    /// <summary>`efs key reencrypt` on the unmounted volume, left running (to be killed).</summary>
    private static Process StartOfflineReencryption(MountedVolume volume) =>
        Process.Start(new ProcessStartInfo("dotnet", [ProcessRunner.EfsDll, "key", "reencrypt", volume.Backing, "--key-file", volume.KeyFile])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;

    private static int Generation(string path) =>
        JsonNode.Parse(ProcessRunner.Efs("status", path, "--json").EnsureSuccess().Stdout)!["dekGeneration"]!.GetValue<int>();

    private static string SingleBackingFileLargerThan(string backing, long size) =>
        Directory.EnumerateFiles(backing, "*", SearchOption.AllDirectories).Single(f => new FileInfo(f).Length > size);

    private static long AllocatedBytes(string path) =>
        long.Parse(ProcessRunner.Run("stat", ["-c", "%b", path]).EnsureSuccess().Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512;
}

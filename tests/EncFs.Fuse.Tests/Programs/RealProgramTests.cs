using System.Globalization;
using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Programs;

/// <summary>Unmodified programs working inside the mount: tar, git, sqlite3, fio.</summary>
[Collection(SharedMountCollection.Name)]
public sealed class RealProgramTests(SharedMountFixture fixture)
{
    private readonly MountedVolume _volume = fixture.Volume;

    [Fact]
    public void TarRoundTripOfTheSourceTree()
    {
        // A stable copy of the repository's src/ (others may be editing it meanwhile).
        using var scratch = new ScratchDirectory();
        Shell($"tar -C '{RepositoryFile()}' --exclude=bin --exclude=obj -cf - src | tar -C '{scratch.Path}' -xf -").EnsureSuccess();
        var original = Path.Combine(scratch.Path, "src");
        Shell($"cd '{original}' && ln -s EncFs.Core core-link && mkdir -p empty/dir && chmod 750 empty").EnsureSuccess();
        Assert.True(Directory.GetFiles(original, "*.cs", SearchOption.AllDirectories).Length > 20);

        // Into the mount: extract an archive of the tree, then compare (contents, modes, mtimes, links).
        var dir = _volume.NewDirectory("tar");
        var archive = Path.Combine(dir, "src.tar");
        Shell($"tar --format=posix -C '{scratch.Path}' -cf '{archive}' src").EnsureSuccess(); // pax: nanosecond times
        Shell($"tar -C '{dir}' -xpf '{archive}'").EnsureSuccess();
        Shell($"diff -r --no-dereference '{original}' '{Path.Combine(dir, "src")}'").EnsureSuccess();
        Shell($"tar -C '{dir}' --compare -f '{archive}'").EnsureSuccess(); // mtime, mode, size, content, link targets

        // Back out of the mount: archive the tree there, extract it elsewhere, compare again.
        var back = Path.Combine(scratch.Path, "back");
        Directory.CreateDirectory(back);
        Shell($"tar --format=posix -C '{dir}' -cf - src | tar -C '{back}' -xpf -").EnsureSuccess();
        Shell($"diff -r --no-dereference '{original}' '{Path.Combine(back, "src")}'").EnsureSuccess();
        Assert.Equal(
            Shell($"cd '{original}' && find . -printf '%p %y %m %s %T@\\n' | sort").Stdout,
            Shell($"cd '{back}/src' && find . -printf '%p %y %m %s %T@\\n' | sort").Stdout);
    }

    [Fact]
    public void GitInitAddCommitLog()
    {
        Tools.Require("git", "git");
        var repo = _volume.NewDirectory("git");
        const string git = "git -c user.name=EncFs -c user.email=encfs@example.invalid -c init.defaultBranch=main -c gc.auto=0";
        Shell($"""
            cd '{repo}'
            {git} init -q .
            mkdir -p docs src
            printf 'hello\n' > README
            seq 1 20000 > src/numbers.txt
            printf '#!/bin/sh\necho run\n' > src/run.sh && chmod +x src/run.sh
            ln -s ../README docs/readme-link
            {git} add -A
            {git} commit -q -m 'first commit'
            {git} mv README README.md
            sed -i 's/^1000$/one thousand/' src/numbers.txt
            {git} commit -q -am 'second commit'
            {git} tag v1
            {git} gc -q --aggressive
            """).EnsureSuccess();

        var log = Shell($"cd '{repo}' && {git} log --format=%s").EnsureSuccess().Stdout;
        Assert.Equal("second commit\nfirst commit\n", log);
        Shell($"cd '{repo}' && {git} fsck --strict --full --no-dangling").EnsureSuccess();
        Assert.Equal(string.Empty, Shell($"cd '{repo}' && {git} status --porcelain").EnsureSuccess().Stdout);
        Assert.Equal("one thousand\n", Shell($"cd '{repo}' && {git} show v1:src/numbers.txt | sed -n 1000p").Stdout);
        var diff = Shell($"cd '{repo}' && {git} diff --stat HEAD~1 HEAD").EnsureSuccess().Stdout;
        Assert.Contains("src/numbers.txt", diff, StringComparison.Ordinal);

        // A clone out of the mount is identical to the work tree.
        using var scratch = new ScratchDirectory();
        Shell($"{git} clone -q '{repo}' '{scratch.Path}/clone'").EnsureSuccess();
        Shell($"diff -r --no-dereference -x .git '{repo}' '{scratch.Path}/clone'").EnsureSuccess();
    }

    [Fact]
    public void SqliteManyTransactionsStayConsistent()
    {
        Tools.Require("sqlite3", "sqlite3");
        var dir = _volume.NewDirectory("sqlite");
        var db = Path.Combine(dir, "test.db");
        const int perMode = 1_000;

        // 1,000 transactions with a rollback journal (create/write/fsync/unlink each time),
        // then 1,000 in WAL mode (the -shm file is a shared mmap).
        var script = new System.Text.StringBuilder();
        script.AppendLine("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;");
        script.AppendLine("CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB, n INTEGER);");
        script.AppendLine("CREATE INDEX t_n ON t(n);");
        for (int i = 0; i < perMode; i++)
        {
            script.Append(CultureInfo.InvariantCulture, $"BEGIN; INSERT INTO t(payload, n) VALUES (randomblob({100 + (i * 37 % 3000)}), {i}); UPDATE t SET n = n + 1 WHERE id = {(i / 2) + 1}; COMMIT;\n");
        }

        Run("sqlite3", [db], stdin: script.ToString(), timeout: TimeSpan.FromMinutes(3)).EnsureSuccess();
        Assert.Equal($"{perMode}\nok\n", Run("sqlite3", [db, "SELECT count(*) FROM t;", "PRAGMA integrity_check;"]).EnsureSuccess().Stdout);

        script.Clear();
        script.AppendLine("PRAGMA journal_mode=WAL;");
        for (int i = perMode; i < 2 * perMode; i++)
        {
            script.Append(CultureInfo.InvariantCulture, $"BEGIN; INSERT INTO t(payload, n) VALUES (randomblob({100 + (i * 37 % 3000)}), {i}); DELETE FROM t WHERE id = {i - 500} AND n % 7 = 3; COMMIT;\n");
        }

        script.AppendLine("PRAGMA wal_checkpoint(TRUNCATE);");
        Run("sqlite3", [db], stdin: script.ToString(), timeout: TimeSpan.FromMinutes(3)).EnsureSuccess();

        // Another process counts the same rows the model predicts, and the file checks out.
        int deleted = Enumerable.Range(perMode, perMode).Count(i => ExpectedN(i - 500, perMode) % 7 == 3);
        var check = Run("sqlite3", [db, "PRAGMA integrity_check;", "SELECT count(*) FROM t;", "SELECT max(id) FROM t;"]).EnsureSuccess();
        Assert.Equal($"ok\n{(2 * perMode) - deleted}\n{2 * perMode}\n", check.Stdout);
        Assert.Equal("ok\n", Run("sqlite3", [db, "VACUUM;", "PRAGMA integrity_check;"]).EnsureSuccess().Stdout);
    }

    /// <summary>Runs a fio job file; fails on any error (a verify failure included); bytes read and written per job name.</summary>
    private Dictionary<string, (long Read, long Written)> RunFio(string jobFile)
    {
        var result = Run("fio", ["--output-format=json", "--group_reporting=0", jobFile], timeout: TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, result + "\ndaemon log:\n" + _volume.Log);
        var totals = new Dictionary<string, (long Read, long Written)>();
        foreach (var job in System.Text.Json.Nodes.JsonNode.Parse(result.Stdout)!["jobs"]!.AsArray())
        {
            Assert.True(job!["error"]!.GetValue<int>() == 0, $"fio job {job["jobname"]} failed: {result}");
            var name = job["jobname"]!.GetValue<string>();
            var (read, written) = totals.GetValueOrDefault(name);
            totals[name] = (read + job["read"]!["io_bytes"]!.GetValue<long>(), written + job["write"]!["io_bytes"]!.GetValue<long>());
        }

        return totals;
    }

    /// <summary>Row id's n after the first phase: its own index, plus one for each of the two updates that touched it.</summary>
    private static int ExpectedN(int id, int perMode)
    {
        int n = id - 1;
        for (int i = 0; i < perMode; i++)
        {
            if ((i / 2) + 1 == id && i >= id - 1)
            {
                n++;
            }
        }

        return n;
    }

    [Fact]
    public void FioRandomWritesVerifyWithMixedBlockSizes()
    {
        Tools.Require("fio", "fio");
        var dir = _volume.NewDirectory("fio");
        // randwrite over 64 MiB with blocks of 4 KiB to 1 MiB at random offsets, then read back
        // and check every block's crc32c; then a mixed read/write job, verified the same way.
        var job = $"""
            [global]
            directory={dir}
            ioengine=psync
            size=64m
            bsrange=4k-1m
            verify=crc32c
            verify_fatal=1
            do_verify=1
            randrepeat=0
            fsync_on_close=1

            [randwrite]
            rw=randwrite
            filename=random.dat

            [randrw]
            stonewall
            rw=randrw
            rwmixread=40
            filename=mixed.dat
            """;
        var jobFile = Path.Combine(dir, "verify.fio");
        File.WriteAllText(jobFile, job);
        var jobs = RunFio(jobFile);
        // Every byte written once, then read back for verification; the mixed job did both.
        Assert.InRange(jobs["randwrite"].Written, 64L << 20, 65L << 20);
        Assert.Equal(jobs["randwrite"].Written, jobs["randwrite"].Read);
        Assert.True(jobs["randrw"].Written > 8 << 20 && jobs["randrw"].Read > 8 << 20, $"randrw moved too little: {jobs["randrw"]}");
        Assert.Equal(64 << 20, new FileInfo(Path.Combine(dir, "random.dat")).Length);
    }

    [Fact]
    public void FioConcurrentWritersAndReadersOfOneFile()
    {
        Tools.Require("fio", "fio");
        var dir = _volume.NewDirectory("fio-shared");
        // Two writers on disjoint halves of one file, unaligned to each other's block sizes,
        // while two readers read the whole file at random; each writer then verifies its half.
        var job = $"""
            [global]
            directory={dir}
            filename=shared.dat
            ioengine=psync
            filesize=32m
            randrepeat=0

            [writer-low]
            rw=randwrite
            offset=0
            size=16m
            bsrange=4k-256k
            verify=crc32c
            verify_fatal=1

            [writer-high]
            rw=randwrite
            offset=16m
            size=16m
            bsrange=4k-256k
            verify=crc32c
            verify_fatal=1

            [readers]
            rw=randread
            numjobs=2
            bs=64k
            size=32m
            """;
        var jobFile = Path.Combine(dir, "shared.fio");
        File.WriteAllText(jobFile, job);
        var jobs = RunFio(jobFile);
        foreach (var writer in new[] { "writer-low", "writer-high" })
        {
            // Its 16 MiB written (a block may be written twice with mixed sizes), then all verified.
            Assert.InRange(jobs[writer].Written, 16L << 20, 17L << 20);
            Assert.Equal(jobs[writer].Written, jobs[writer].Read);
        }

        Assert.Equal(64L << 20, jobs["readers"].Read); // two readers, 32 MiB each
        Assert.Equal(32 << 20, new FileInfo(Path.Combine(dir, "shared.dat")).Length);
    }

    [Fact]
    public void ThreadsWritingDisjointRangesWhileOthersRead()
    {
        var path = Path.Combine(_volume.NewDirectory("threads"), "shared.bin");
        const int writers = 4, regionSize = 3 << 20;
        const long size = (long)writers * regionSize;
        using (var create = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.SetLength(create, size); // starts as one hole: reads zeros
        }

        using var done = new CancellationTokenSource();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();

        // Writers: each fills its region front to back in odd-sized chunks that straddle
        // sectors; neighbouring regions share a sector at every boundary (3 MiB is aligned, so
        // shift each region by 1000 bytes to make them share one).
        var writerThreads = Enumerable.Range(0, writers).Select(w => Start(errors, () =>
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            var random = new Random(w);
            long start = (w * (long)regionSize) + (w == 0 ? 0 : 1000);
            long end = w == writers - 1 ? size : ((w + 1) * (long)regionSize) + 1000;
            var buffer = new byte[300_000];
            for (long position = start; position < end;)
            {
                int length = (int)Math.Min(random.Next(1, buffer.Length), end - position);
                TestData.Fill(buffer.AsSpan(0, length), position, seed: 7);
                RandomAccess.Write(handle, buffer.AsSpan(0, length), position);
                position += length;
            }
        })).ToArray();

        // Readers: every byte read is either still zero (not written yet) or exactly the final
        // value; anything else is a torn or misplaced write.
        var readerThreads = Enumerable.Range(0, 2).Select(r => Start(errors, () =>
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            var random = new Random(100 + r);
            var buffer = new byte[200_000];
            var expected = new byte[buffer.Length];
            while (!done.IsCancellationRequested)
            {
                long offset = random.NextInt64(0, size - buffer.Length);
                int read = RandomAccess.Read(handle, buffer, offset);
                TestData.Fill(expected.AsSpan(0, read), offset, seed: 7);
                for (int i = 0; i < read; i++)
                {
                    if (buffer[i] != 0 && buffer[i] != expected[i])
                    {
                        errors.Enqueue($"byte at {offset + i} is {buffer[i]}, expected 0 or {expected[i]}");
                        return;
                    }
                }
            }
        })).ToArray();

        foreach (var thread in writerThreads)
        {
            Assert.True(thread.Join(TimeSpan.FromMinutes(2)), "a writer did not finish");
        }

        done.Cancel();
        foreach (var thread in readerThreads)
        {
            Assert.True(thread.Join(TimeSpan.FromMinutes(1)), "a reader did not finish");
        }

        Assert.Empty(errors);

        // Afterwards the whole file is exactly the pattern.
        var all = File.ReadAllBytes(path);
        Assert.Equal(size, all.Length);
        var model = TestData.Pattern(0, (int)size, seed: 7);
        int same = all.AsSpan().CommonPrefixLength(model);
        Assert.True(same == all.Length, $"byte {same} differs after the concurrent writes");
    }

    private static Thread Start(System.Collections.Concurrent.ConcurrentQueue<string> errors, Action body)
    {
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                errors.Enqueue(e.ToString());
            }
        });
        thread.Start();
        return thread;
    }
}

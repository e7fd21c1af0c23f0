using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Posix;

/// <summary>
/// POSIX file operations on a real mount, through the syscalls the .NET file APIs make and
/// through the coreutils that scripts use; P/Invoke where .NET has no API.
/// </summary>
[Collection(SharedMountCollection.Name)]
public sealed class FileOperationsTests(SharedMountFixture fixture)
{
    private readonly MountedVolume _volume = fixture.Volume;

    [Fact]
    public void CreateReadWriteAppendAcrossSectors()
    {
        var dir = _volume.NewDirectory("rw");
        var path = Path.Combine(dir, "data.bin");
        var model = TestData.Random(300_001); // not a multiple of the 4 KiB sector
        File.WriteAllBytes(path, model);
        Assert.Equal(model, File.ReadAllBytes(path));

        // Overwrite in the middle at an unaligned offset, spanning three sectors.
        var patch = TestData.Random(9_000);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(handle, patch, 4_095);
        }

        patch.CopyTo(model, 4_095);
        Assert.Equal(model, File.ReadAllBytes(path));

        // O_APPEND, twice, from two opens.
        var tail1 = TestData.Random(10);
        var tail2 = TestData.Random(5_000);
        using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(tail1);
        }

        File.AppendAllText(path, string.Empty);
        using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(tail2);
        }

        model = [.. model, .. tail1, .. tail2];
        Assert.Equal(model.Length, new FileInfo(path).Length);
        Assert.Equal(model, File.ReadAllBytes(path));

        // A read that starts past the end returns nothing; one that crosses it is short.
        using var reader = File.OpenHandle(path);
        var buffer = new byte[100];
        Assert.Equal(0, RandomAccess.Read(reader, buffer, model.Length + 10));
        Assert.Equal(40, RandomAccess.Read(reader, buffer, model.Length - 40));
        Assert.Equal(model[^40..], buffer[..40]);

        // An empty file, created exclusively.
        var empty = Path.Combine(dir, "empty");
        using (new FileStream(empty, FileMode.CreateNew))
        {
        }

        Assert.Empty(File.ReadAllBytes(empty));
        Assert.Throws<IOException>(() => new FileStream(empty, FileMode.CreateNew).Dispose());
    }

    [Fact]
    public void TruncateShrinksGrowsAndHolesReadZeros()
    {
        var dir = _volume.NewDirectory("trunc");
        var path = Path.Combine(dir, "t.bin");
        var model = TestData.Random(100_000);
        File.WriteAllBytes(path, model);

        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.SetLength(5_000); // ftruncate, shrinking inside a sector
        }

        Assert.Equal(model[..5_000], File.ReadAllBytes(path));

        // Growing again must not resurrect the old bytes: the new range reads zeros.
        Shell($"truncate -s 50000 '{path}'").EnsureSuccess();
        var grown = File.ReadAllBytes(path);
        Assert.Equal(50_000, grown.Length);
        Assert.Equal(model[..5_000], grown[..5_000]);
        Assert.All(grown[5_000..], b => Assert.Equal(0, b));

        // A sparse file: one byte at 10 MB + 3; everything before it reads zeros.
        var sparse = Path.Combine(dir, "sparse.bin");
        using (var handle = File.OpenHandle(sparse, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, "AB"u8.ToArray(), 10_000_003);
        }

        Assert.Equal(10_000_005, new FileInfo(sparse).Length);
        var all = File.ReadAllBytes(sparse);
        Assert.Equal((byte)'A', all[10_000_003]);
        Assert.Equal((byte)'B', all[10_000_004]);
        Assert.Equal(-1, Array.FindIndex(all, 0, 10_000_003, b => b != 0));

        // O_TRUNC on open empties the file.
        using (new FileStream(path, FileMode.Truncate))
        {
        }

        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void RenameMovesAndReplaces()
    {
        var dir = _volume.NewDirectory("rename");
        var a = Path.Combine(dir, "a");
        var b = Path.Combine(dir, "b");
        File.WriteAllText(a, "content of a");
        File.WriteAllText(b, "content of b");

        using (var displaced = new FileStream(b, FileMode.Open, FileAccess.Read))
        {
            File.Move(a, b, overwrite: true); // rename(2) over an existing file (open here)
            Assert.False(File.Exists(a));
            Assert.Equal("content of a", File.ReadAllText(b));
            Assert.Single(Directory.GetFiles(dir));

            // The replaced file lives on for whoever has it open: fstat and read.
            Assert.Equal("content of b".Length, displaced.Length);
            Assert.Equal("content of b", new StreamReader(displaced).ReadToEnd());
        }

        // A directory with children moves as a whole, into another directory.
        var tree = Path.Combine(dir, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.WriteAllText(Path.Combine(tree, "sub", "leaf"), "leaf");
        var other = Path.Combine(dir, "other");
        Directory.CreateDirectory(other);
        var moved = Path.Combine(other, "moved-tree");
        Directory.Move(tree, moved);
        Assert.False(Directory.Exists(tree));
        Assert.Equal("leaf", File.ReadAllText(Path.Combine(moved, "sub", "leaf")));

        // The same with mv, which also renames a file kept open: the open handle follows.
        using (var open = new FileStream(b, FileMode.Open, FileAccess.ReadWrite))
        {
            Shell($"mv '{b}' '{Path.Combine(other, "b2")}'").EnsureSuccess();
            open.Seek(0, SeekOrigin.End);
            open.Write(" + more"u8);
        }

        Assert.Equal("content of a + more", File.ReadAllText(Path.Combine(other, "b2")));

        // Replacing a non-empty directory is refused, an empty one is replaced.
        var empty = Path.Combine(dir, "empty");
        Directory.CreateDirectory(empty);
        Assert.NotEqual(0, Sys.Rename2(empty, other, 0));
        Assert.Equal(0, Sys.Rename2(moved, empty, 0));
        Assert.True(File.Exists(Path.Combine(empty, "sub", "leaf")));
    }

    [Fact]
    public void RenameNoReplaceAndExchange()
    {
        var dir = _volume.NewDirectory("rename2");
        var x = Path.Combine(dir, "x");
        var y = Path.Combine(dir, "y");
        File.WriteAllText(x, "X");
        File.WriteAllText(y, "Y");

        Assert.Equal(Sys.EEXIST, Sys.Rename2(x, y, Sys.RENAME_NOREPLACE));
        Assert.Equal("X", File.ReadAllText(x));
        Assert.Equal("Y", File.ReadAllText(y));

        var z = Path.Combine(dir, "z");
        Assert.Equal(0, Sys.Rename2(x, z, Sys.RENAME_NOREPLACE));
        Assert.False(File.Exists(x));
        Assert.Equal("X", File.ReadAllText(z));

        // RENAME_EXCHANGE: `mv --exchange` where coreutils has it (9.5+), renameat2 otherwise.
        if (Shell("mv --help | grep -q -- --exchange").ExitCode == 0)
        {
            Shell($"mv --exchange '{z}' '{y}'").EnsureSuccess();
        }
        else
        {
            Assert.Equal(0, Sys.Rename2(z, y, Sys.RENAME_EXCHANGE));
        }

        Assert.Equal("Y", File.ReadAllText(z));
        Assert.Equal("X", File.ReadAllText(y));

        // Exchange a file with a directory: both keep their contents, under swapped names.
        var d = Path.Combine(dir, "d");
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "inside"), "in d");
        Assert.Equal(0, Sys.Rename2(d, y, Sys.RENAME_EXCHANGE));
        Assert.Equal("in d", File.ReadAllText(Path.Combine(y, "inside")));
        Assert.Equal("X", File.ReadAllText(d));

        // Exchange needs both sides.
        Assert.NotEqual(0, Sys.Rename2(z, Path.Combine(dir, "missing"), Sys.RENAME_EXCHANGE));
        Assert.Equal("Y", File.ReadAllText(z));
    }

    [Fact]
    public void HardLinksShareContentAndCount()
    {
        var dir = _volume.NewDirectory("links");
        var a = Path.Combine(dir, "a");
        var b = Path.Combine(dir, "b");
        File.WriteAllText(a, "one\n");
        Assert.Equal("1", Stat(a, "%h")); // the kernel now caches a's attributes

        Shell($"ln '{a}' '{b}'").EnsureSuccess();

        // Immediately, through either name: one inode, two links (no waiting for caches to expire).
        Assert.Equal("2", Stat(a, "%h"));
        Assert.Equal("2", Stat(b, "%h"));
        Assert.Equal(Stat(a, "%i"), Stat(b, "%i"));

        // Written through one name, read through the other, size included.
        File.AppendAllText(b, "two\n");
        Assert.Equal("one\ntwo\n", File.ReadAllText(a));
        Assert.Equal("8", Stat(a, "%s"));
        using (var stream = new FileStream(a, FileMode.Append))
        {
            stream.Write("three\n"u8);
        }

        Assert.Equal("one\ntwo\nthree\n", File.ReadAllText(b));

        // A link in another directory, then the first name goes: the content stays.
        var sub = Path.Combine(dir, "sub");
        Directory.CreateDirectory(sub);
        var c = Path.Combine(sub, "c");
        Shell($"ln '{b}' '{c}'").EnsureSuccess();
        Assert.Equal("3", Stat(a, "%h"));
        File.Delete(a);
        Assert.Equal("2", Stat(b, "%h"));
        Assert.Equal("2", Stat(c, "%h"));
        Assert.Equal("one\ntwo\nthree\n", File.ReadAllText(c));
        File.Delete(b);
        Assert.Equal("1", Stat(c, "%h"));
        Assert.Equal("one\ntwo\nthree\n", File.ReadAllText(c));

        // Directories cannot be hard linked.
        Assert.NotEqual(0, Shell($"ln '{sub}' '{Path.Combine(dir, "sub2")}' 2>/dev/null").ExitCode);
    }

    [Fact]
    public void SymlinksResolveAndReadBack()
    {
        var dir = _volume.NewDirectory("symlinks");
        File.WriteAllText(Path.Combine(dir, "target"), "through the link");
        var link = Path.Combine(dir, "link");
        Shell($"cd '{dir}' && ln -s target link && ln -s ../nowhere/at/all dangling && ln -s '{dir}' absolute").EnsureSuccess();

        Assert.Equal("target", Shell($"readlink '{link}'").Stdout.Trim());
        Assert.Equal("target", new FileInfo(link).LinkTarget);
        Assert.Equal("through the link", File.ReadAllText(link));
        Assert.Equal("symbolic link", Stat(link, "%F"));
        Assert.Equal("6", Stat(link, "%s")); // a symlink's size is its target's length

        Assert.Equal("../nowhere/at/all", Shell($"readlink '{Path.Combine(dir, "dangling")}'").Stdout.Trim());
        Assert.NotEqual(0, Shell($"test -e '{Path.Combine(dir, "dangling")}'").ExitCode); // follows the link: nothing there
        Assert.Equal(0, Shell($"test -L '{Path.Combine(dir, "dangling")}'").ExitCode);

        Assert.Equal(dir, Shell($"readlink '{Path.Combine(dir, "absolute")}'").Stdout.Trim());
        Assert.Equal("through the link", File.ReadAllText(Path.Combine(dir, "absolute", "target")));

        // A long target (longer than a sector of names would carry in one piece).
        var longTarget = string.Join('/', Enumerable.Range(0, 60).Select(i => $"segment{i:D3}"));
        File.CreateSymbolicLink(Path.Combine(dir, "long"), longTarget);
        Assert.Equal(longTarget, Shell($"readlink '{Path.Combine(dir, "long")}'").Stdout.Trim());

        // Removing the link leaves the target.
        File.Delete(link);
        Assert.True(File.Exists(Path.Combine(dir, "target")));
    }

    [Fact]
    public void FifoCarriesDataBetweenProcesses()
    {
        var dir = _volume.NewDirectory("fifo");
        var fifo = Path.Combine(dir, "pipe");
        Shell($"mkfifo -m 600 '{fifo}'").EnsureSuccess();
        Assert.Equal("fifo", Stat(fifo, "%F"));
        Assert.Equal("600", Stat(fifo, "%a"));

        // A reader in another process, a writer here: the kernel carries the data.
        var result = Shell($"(cat '{fifo}' > '{dir}/received') & echo 'through the fifo' > '{fifo}'; wait");
        result.EnsureSuccess();
        Assert.Equal("through the fifo\n", File.ReadAllText(Path.Combine(dir, "received")));
        Assert.Contains("pipe", Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void ChmodChownAndTimes()
    {
        var dir = _volume.NewDirectory("meta");
        var path = Path.Combine(dir, "f");
        File.WriteAllText(path, "metadata");

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Equal("640", Stat(path, "%a"));
        Shell($"chmod 4751 '{path}'").EnsureSuccess();
        Assert.Equal("4751", Stat(path, "%a"));

        Shell($"chown 1234:5678 '{path}'").EnsureSuccess();
        Assert.Equal("1234 5678", Stat(path, "%u %g"));
        Shell($"chgrp 42 '{path}'").EnsureSuccess();
        Assert.Equal("1234 42", Stat(path, "%u %g"));

        Shell($"touch -m -d '2001-02-03 04:05:06.123456789 UTC' '{path}'").EnsureSuccess();
        Shell($"touch -a -d '1999-12-31 23:59:58.5 UTC' '{path}'").EnsureSuccess();
        Assert.Equal("981173106.123456789", Stat(path, "%.9Y"));
        Assert.Equal("946684798.500000000", Stat(path, "%.9X"));
        Assert.Equal("metadata", File.ReadAllText(path));

        // A directory's times, and a symlink's own (touch -h: utimensat with AT_SYMLINK_NOFOLLOW).
        Shell($"touch -d '@1000000000' '{dir}'").EnsureSuccess();
        Assert.Equal("1000000000", Stat(dir, "%Y"));
        var link = Path.Combine(dir, "link");
        File.CreateSymbolicLink(link, "f");
        Shell($"touch -h -d '@1234567890' '{link}'").EnsureSuccess();
        Assert.Equal("1234567890", Stat(link, "%Y"));
        Assert.Equal("981173106", Stat(path, "%Y"));

        // Writing moves mtime forward to now.
        File.AppendAllText(path, "!");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(long.Parse(Stat(path, "%Y"), System.Globalization.CultureInfo.InvariantCulture), now - 30, now + 1);
    }

    [Fact]
    public void ExtendedAttributes()
    {
        Tools.Require("setfattr", "attr");
        var dir = _volume.NewDirectory("xattr");
        var path = Path.Combine(dir, "f");
        File.WriteAllText(path, "x");

        Shell($"setfattr -n user.color -v blue '{path}' && setfattr -n user.empty '{path}' && setfattr -n user.bin -v 0x00ff10 '{path}'").EnsureSuccess();
        Assert.Equal("blue", Shell($"getfattr --only-values -n user.color '{path}'").Stdout);
        var dump = Shell($"getfattr -d -e hex '{path}'").EnsureSuccess().Stdout;
        Assert.Contains("user.color=0x626c7565", dump, StringComparison.Ordinal);
        Assert.Contains("user.bin=0x00ff10", dump, StringComparison.Ordinal);
        Assert.Contains("user.empty", dump, StringComparison.Ordinal);

        // Create and replace flags, a large value, removal.
        Assert.Equal(Sys.EEXIST, Sys.SetXattr(path, "user.color", "red"u8, Sys.XATTR_CREATE));
        Assert.Equal(Sys.ENODATA, Sys.SetXattr(path, "user.absent", "v"u8, Sys.XATTR_REPLACE));
        Assert.Equal(0, Sys.SetXattr(path, "user.color", "red"u8, Sys.XATTR_REPLACE));
        var large = TestData.Random(2_000); // ext4 under the backing directory holds ~4 KiB of xattrs per inode
        Assert.Equal(0, Sys.SetXattr(path, "user.large", large, 0));
        Assert.Equal(large, Sys.GetXattr(path, "user.large", out _));
        Assert.Equal("red"u8.ToArray(), Sys.GetXattr(path, "user.color", out _));

        Shell($"setfattr -x user.color '{path}'").EnsureSuccess();
        var gone = Shell($"getfattr -n user.color '{path}'");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("No such attribute", gone.Stderr, StringComparison.Ordinal);
        Assert.Null(Sys.GetXattr(path, "user.color", out var errno));
        Assert.Equal(Sys.ENODATA, errno);
        Assert.Equal(["user.bin", "user.empty", "user.large"], Sys.ListXattrs(path).Order());

        // On a directory too; and the attributes go with the file when it is renamed.
        Shell($"setfattr -n user.on-dir -v yes '{dir}'").EnsureSuccess();
        Assert.Equal("yes", Shell($"getfattr --only-values -n user.on-dir '{dir}'").Stdout);
        File.Move(path, Path.Combine(dir, "renamed"));
        Assert.Equal(large, Sys.GetXattr(Path.Combine(dir, "renamed"), "user.large", out _));
    }

    [Fact]
    public void StatfsReportsTheBackingFilesystem()
    {
        var mount = Shell($"stat -f -c '%S %b %c' '{_volume.MountPoint}'").EnsureSuccess().Stdout.Trim().Split(' ');
        var backing = Shell($"stat -f -c '%S %b %c' '{_volume.Backing}'").EnsureSuccess().Stdout.Trim().Split(' ');
        long Bytes(string[] fields) => long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Bytes(backing), Bytes(mount));
        Assert.Equal(backing[2], mount[2]); // total inodes

        var df = Shell($"df -P -B1 '{_volume.MountPoint}' | tail -1").EnsureSuccess().Stdout.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(_volume.Backing, df[0]); // the source shown is the backing directory
        Assert.Equal(Bytes(backing), long.Parse(df[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(long.Parse(df[3], System.Globalization.CultureInfo.InvariantCulture) > 0, "df shows no space available");
        Assert.Equal(_volume.MountPoint, df[5]);
        Assert.Equal("fuseblk", Shell($"stat -f -c %T '{_volume.MountPoint}'").Stdout.Trim());
    }

    [Fact]
    public void FallocateExtendsWithZerosAndKeepsData()
    {
        var dir = _volume.NewDirectory("fallocate");
        var path = Path.Combine(dir, "f");
        Shell($"fallocate -l 1MiB '{path}'").EnsureSuccess();
        Assert.Equal(1 << 20, new FileInfo(path).Length);
        Assert.All(File.ReadAllBytes(path), b => Assert.Equal(0, b));

        var data = TestData.Random(10_000);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(handle, data, 5_000);
        }

        // Allocating over existing data changes nothing; KEEP_SIZE leaves the size alone.
        Shell($"fallocate -o 0 -l 100000 '{path}'").EnsureSuccess();
        Shell($"fallocate -n -o 0 -l 4MiB '{path}'").EnsureSuccess();
        Assert.Equal(1 << 20, new FileInfo(path).Length);
        Shell($"fallocate -o 1MiB -l 1MiB '{path}'").EnsureSuccess();
        Assert.Equal(2 << 20, new FileInfo(path).Length);
        var all = File.ReadAllBytes(path);
        Assert.Equal(data, all[5_000..15_000]);
        Assert.Equal(-1, Array.FindIndex(all, 15_000, b => b != 0));

        // Punching a hole is either done (zeros) or refused as unsupported, never half-done.
        var punch = Shell($"fallocate -p -o 8192 -l 4096 '{path}'");
        var after = File.ReadAllBytes(path);
        if (punch.ExitCode == 0)
        {
            Assert.All(after[8192..12288], b => Assert.Equal(0, b));
        }
        else
        {
            Assert.Contains("unsupported", punch.Stderr.Replace("not supported", "unsupported", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Equal(all, after);
        }
    }

    [Fact]
    public void SeekDataAndSeekHole()
    {
        var dir = _volume.NewDirectory("seek");
        var path = Path.Combine(dir, "sparse");
        const long dataAt = 3 << 20;
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, TestData.Random(5_000), dataAt);
        }

        const long size = dataAt + 5_000;
        using var file = File.OpenHandle(path);
        // Where data starts is at most where it was written; a hole (if reported) reads zeros;
        // the end of the file always counts as a hole; past the end there is nothing (ENXIO).
        long data = Sys.Seek(file, 0, Sys.SEEK_DATA);
        Assert.InRange(data, 0, dataAt);
        long hole = Sys.Seek(file, 0, Sys.SEEK_HOLE);
        Assert.InRange(hole, 0, size);
        if (hole < size)
        {
            var zeros = new byte[Math.Min(dataAt, size) - hole];
            RandomAccess.Read(file, zeros, hole);
            Assert.True(hole >= dataAt || zeros.All(b => b == 0), "a reported hole holds data");
        }

        Assert.Equal(size, Sys.Seek(file, dataAt + 10, Sys.SEEK_HOLE));
        Assert.Equal(dataAt + 10, Sys.Seek(file, dataAt + 10, Sys.SEEK_DATA));
        Assert.Equal(-Sys.ENXIO, Sys.Seek(file, size, Sys.SEEK_DATA));
        Assert.Equal(-Sys.ENXIO, Sys.Seek(file, size + 1, Sys.SEEK_HOLE));

        // The same answers through python's os.lseek, a second client of the syscall.
        var python = Python($"import os\nfd=os.open('{path}', os.O_RDONLY)\nprint(os.lseek(fd, {dataAt + 1}, os.SEEK_DATA), os.lseek(fd, {dataAt + 1}, os.SEEK_HOLE))").EnsureSuccess();
        Assert.Equal($"{dataAt + 1} {size}", python.Stdout.Trim());
    }

    [Fact]
    public void DirectoriesListCreateAndRemove()
    {
        var dir = _volume.NewDirectory("dirs");
        var names = Enumerable.Range(0, 500).Select(i => $"entry-{i:D4}-{new string('n', i % 200)}").ToList();
        foreach (var name in names)
        {
            File.WriteAllText(Path.Combine(dir, name), name);
        }

        // Listing big enough to need several readdir(plus) calls.
        Assert.Equal(names.Order(), Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        Assert.Equal(names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Shell($"ls -1 '{dir}' | wc -l").Stdout.Trim());
        Assert.Equal(names[123], File.ReadAllText(Path.Combine(dir, names[123])));

        // rmdir of a non-empty directory fails; after emptying it succeeds.
        var removable = Path.Combine(dir, "removable");
        Directory.CreateDirectory(Path.Combine(removable, "nested"));
        Assert.NotEqual(0, Shell($"rmdir '{removable}' 2>/dev/null").ExitCode);
        Directory.Delete(Path.Combine(removable, "nested"));
        Directory.Delete(removable);
        Assert.False(Directory.Exists(removable));

        foreach (var name in names)
        {
            File.Delete(Path.Combine(dir, name));
        }

        Assert.Empty(Directory.GetFileSystemEntries(dir));
        Directory.Delete(dir);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void OpenFileKeepsWorkingAfterUnlink()
    {
        var dir = _volume.NewDirectory("unlinked");
        var path = Path.Combine(dir, "temp");
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite);
        File.Delete(path); // the tmpfile() pattern: open, unlink, keep using
        Assert.Empty(Directory.GetFileSystemEntries(dir));

        var data = TestData.Random(50_000);
        stream.Write(data);
        stream.Flush();
        Assert.Equal(data.Length, stream.Length); // fstat(2): the kernel sends no handle with it
        var back = new byte[data.Length];
        stream.Position = 0;
        stream.ReadExactly(back);
        Assert.Equal(data, back);

        stream.SetLength(1000); // ftruncate
        Assert.Equal(1000, stream.Length);

        // The same from python: size and a link count of 0, and fchmod/futimens through the handle.
        var fstat = Python("import os,sys\nfd=os.open(sys.argv[1], os.O_CREAT|os.O_RDWR)\nos.unlink(sys.argv[1])\nos.write(fd, b'x'*12345)\nos.fchmod(fd, 0o640)\nos.utime(fd, (1000000000, 1200000000))\nst=os.fstat(fd)\nprint(st.st_size, st.st_nlink, os.pread(fd, 3, 12342), oct(st.st_mode & 0o777), int(st.st_mtime))", path + ".py").EnsureSuccess();
        Assert.Equal("12345 0 b'xxx' 0o640 1200000000", fstat.Stdout.Trim());
        Assert.False(File.Exists(path + ".py"));

        // The name is free again meanwhile.
        File.WriteAllText(path, "a new file");
        Assert.Equal("a new file", File.ReadAllText(path));
        Assert.Equal(1000, stream.Length);
    }

    [Fact]
    public void ConcurrentAppendsFromTwoProcessesInterleaveWholeRecords()
    {
        var dir = _volume.NewDirectory("append");
        var path = Path.Combine(dir, "shared.log");
        const string writer = """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(1500):
    os.write(fd, ("%s-%05d-%s\n" % (sys.argv[2], i, "p" * 80)).encode())
""";
        // Through two names of one file (hard links): appends still serialise on the one inode.
        File.WriteAllText(path, string.Empty);
        Shell($"ln '{path}' '{path}.link'").EnsureSuccess();
        var result = Shell($"""
            python3 -c '{writer}' '{path}' A &
            python3 -c '{writer}' '{path}.link' B &
            wait
            """).EnsureSuccess();
        var lines = File.ReadAllLines(path);
        Assert.Equal(3000, lines.Length);
        Assert.All(lines, line => Assert.Matches("^[AB]-[0-9]{5}-p{80}$", line));
        foreach (var tag in new[] { "A", "B" })
        {
            var own = lines.Where(l => l.StartsWith(tag, StringComparison.Ordinal)).Select(l => int.Parse(l[2..7], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, 1500), own); // each writer's records in its order
        }
    }

    [Fact]
    public void NamesUpTo255BytesWork()
    {
        var dir = _volume.NewDirectory("names");
        var longest = new string('n', 251) + ".txt";
        File.WriteAllText(Path.Combine(dir, longest), "255");
        var utf8 = string.Concat(Enumerable.Repeat("é", 127)); // 254 bytes
        Directory.CreateDirectory(Path.Combine(dir, utf8));
        File.WriteAllText(Path.Combine(dir, utf8, "inside"), "utf8");
        Assert.Equal("255", File.ReadAllText(Path.Combine(dir, longest)));
        Assert.Equal("utf8", File.ReadAllText(Path.Combine(dir, utf8, "inside")));
        Assert.Equal([longest, utf8], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var tooLong = Shell($"touch '{Path.Combine(dir, new string('x', 256))}'");
        Assert.NotEqual(0, tooLong.ExitCode);
        Assert.Contains("File name too long", tooLong.Stderr, StringComparison.Ordinal);

        File.Move(Path.Combine(dir, longest), Path.Combine(dir, "short"));
        File.Move(Path.Combine(dir, "short"), Path.Combine(dir, new string('m', 255)));
        Assert.Equal("255", File.ReadAllText(Path.Combine(dir, new string('m', 255))));
    }

    [Fact]
    public void EverythingSurvivesARemount()
    {
        var dir = _volume.NewDirectory("persist");
        string P(string name) => Path.Combine(dir, name);
        var data = TestData.Random(70_000);
        File.WriteAllBytes(P("data"), data);
        using (var handle = File.OpenHandle(P("sparse"), FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, "end"u8, 5_000_000);
        }

        Shell($"""
            cd '{dir}'
            chmod 2710 data && chown 321:654 data
            touch -m -d '2010-10-10 10:10:10.101010101 UTC' data
            ln data data-link
            ln -s data symlink
            mkfifo -m 640 fifo
            mkdir -m 700 sub && touch -d '@1300000000.5' sub
            setfattr -n user.kept -v 'across remounts' data
            """).EnsureSuccess();
        const string format = "%n %F %a %u %g %h %s %.9Y";
        var before = Shell($"cd '{dir}' && stat -c '{format}' data data-link symlink fifo sub sparse").EnsureSuccess().Stdout;

        _volume.Remount();

        Assert.Equal(before, Shell($"cd '{dir}' && stat -c '{format}' data data-link symlink fifo sub sparse").EnsureSuccess().Stdout);
        Assert.Equal(data, File.ReadAllBytes(P("data")));
        Assert.Equal(Stat(P("data"), "%i"), Stat(P("data-link"), "%i"));
        Assert.Equal("data", Shell($"readlink '{P("symlink")}'").Stdout.Trim());
        Assert.Equal("across remounts", Shell($"getfattr --only-values -n user.kept '{P("data")}'").Stdout);
        var sparse = File.ReadAllBytes(P("sparse"));
        Assert.Equal("end"u8.ToArray(), sparse[^3..]);
        Assert.Equal(-1, Array.FindIndex(sparse, 0, 5_000_000, b => b != 0));
    }

    private static string Stat(string path, string format) =>
        Shell($"stat -c '{format}' '{path}'").EnsureSuccess().Stdout.Trim();
}

using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Posix;

/// <summary>flock and POSIX record locks between processes, and shared writable mmap.</summary>
[Collection(SharedMountCollection.Name)]
public sealed class LocksAndMmapTests(SharedMountFixture fixture)
{
    private readonly MountedVolume _volume = fixture.Volume;

    [Fact]
    public void FlockExcludesOtherOpenFiles()
    {
        Tools.Require("flock", "util-linux");
        var dir = _volume.NewDirectory("flock");
        var path = Path.Combine(dir, "lockfile");
        File.WriteAllText(path, string.Empty);

        // While one process holds an exclusive flock, a non-blocking attempt from another fails,
        // a shared one too; once released, both succeed.
        // (\$? is for the inner shell that flock -c starts.)
        var held = Shell($"flock -x '{path}' -c \"flock -n -x '{path}' true; echo exclusive=\\$?; flock -n -s '{path}' true; echo shared=\\$?\"").EnsureSuccess();
        Assert.Contains("exclusive=1", held.Stdout, StringComparison.Ordinal);
        Assert.Contains("shared=1", held.Stdout, StringComparison.Ordinal);

        var sharedHeld = Shell($"flock -s '{path}' -c \"flock -n -s '{path}' true; echo shared=\\$?; flock -n -x '{path}' true; echo exclusive=\\$?\"").EnsureSuccess();
        Assert.Contains("shared=0", sharedHeld.Stdout, StringComparison.Ordinal);
        Assert.Contains("exclusive=1", sharedHeld.Stdout, StringComparison.Ordinal);

        Shell($"flock -n -x '{path}' true").EnsureSuccess();

        // A waiter gets the lock when the holder lets go.
        var waited = Shell($"flock -x '{path}' -c 'sleep 0.5' & sleep 0.2; flock -w 10 -x '{path}' -c 'echo got-it'; wait").EnsureSuccess();
        Assert.Contains("got-it", waited.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void PosixRecordLocksBetweenProcesses()
    {
        var dir = _volume.NewDirectory("lockf");
        var path = Path.Combine(dir, "records");
        File.WriteAllBytes(path, new byte[4096]);

        // Parent locks bytes [0, 100); a child process probes overlapping and disjoint ranges.
        const string script = """
import fcntl, os, subprocess, sys
path = sys.argv[1]
probe = '''
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
def attempt(length, start):
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
        return "free"
    except OSError:
        return "locked"
print(attempt(10, 50), attempt(100, 200), attempt(1, 99), attempt(1, 100))
'''
fd = os.open(path, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0)
held = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, check=True).stdout.strip()
fcntl.lockf(fd, fcntl.LOCK_UN, 100, 0)
released = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, check=True).stdout.strip()
print(held)
print(released)
""";
        var result = Python(script, path).EnsureSuccess();
        var lines = result.Stdout.Trim().Split('\n');
        Assert.Equal("locked free locked free", lines[0]);
        Assert.Equal("free free free free", lines[1]);
    }

    [Fact]
    public void SharedWritableMmapReachesTheFile()
    {
        var dir = _volume.NewDirectory("mmap");
        var path = Path.Combine(dir, "mapped");
        const int size = (5 * 4096) + 123;
        var initial = TestData.Random(size);
        File.WriteAllBytes(path, initial);

        // Writes through a MAP_SHARED mapping at page-crossing offsets, msync, unmap.
        var patches = new (int Offset, byte[] Data)[]
        {
            (0, TestData.Random(10)),
            (4090, TestData.Random(20)),
            (3 * 4096, TestData.Random(4096)),
            (size - 50, TestData.Random(50)),
        };
        var script = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
for spec in sys.argv[2:]:
    offset, hexdata = spec.split(':')
    data = bytes.fromhex(hexdata)
    m[int(offset):int(offset) + len(data)] = data
m.flush()
# A second mapping in the same process sees the same pages.
m2 = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
assert m2[:] == m[:], "two shared mappings disagree"
m.close(); m2.close(); os.close(fd)
""";
        Python(script, [path, .. patches.Select(p => $"{p.Offset}:{Convert.ToHexString(p.Data)}")]).EnsureSuccess();

        var expected = (byte[])initial.Clone();
        foreach (var (offset, data) in patches)
        {
            data.CopyTo(expected, offset);
        }

        // A fresh read(2) from this process sees what went through the mapping.
        Assert.Equal(expected, File.ReadAllBytes(path));

        // A write(2) after the mapping is gone is seen by a new mapping.
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(handle, "WRITTEN"u8, 100);
        }

        "WRITTEN"u8.CopyTo(expected.AsSpan(100));
        var mapped = Python("import mmap, os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nm = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)\nsys.stdout.write(m[:].hex())", path).EnsureSuccess();
        Assert.Equal(Convert.ToHexStringLower(expected), mapped.Stdout);

        // And it is in the backing files: after a remount it reads the same.
        _volume.Remount();
        Assert.Equal(expected, File.ReadAllBytes(path));
    }
}

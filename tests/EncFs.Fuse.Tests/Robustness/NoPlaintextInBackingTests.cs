using System.Text;
using EncFs.Fuse.Tests.Support;
using static EncFs.Fuse.Tests.Support.ProcessRunner;

namespace EncFs.Fuse.Tests.Robustness;

/// <summary>
/// The attacker holding the backing directory: after writing distinctive markers through the
/// mount (in file contents, names, symlink targets, xattr names and values) and unmounting, no
/// marker appears anywhere in it — not in any byte of any file, any name, any symlink target or
/// any extended attribute.
/// </summary>
public sealed class NoPlaintextInBackingTests
{
    [Fact]
    public void NothingWrittenThroughTheMountAppearsInTheBackingDirectory()
    {
        using var volume = MountedVolume.Create();
        var markers = new Dictionary<string, string>
        {
            ["content"] = TestData.Marker("content"),
            ["small"] = TestData.Marker("small"),
            ["appended"] = TestData.Marker("appended"),
            ["filename"] = TestData.Marker("filename"),
            ["dirname"] = TestData.Marker("dirname"),
            ["longname"] = TestData.Marker("longname"),
            ["symlink"] = TestData.Marker("symlink"),
            ["xattrvalue"] = TestData.Marker("xattrvalue"),
            ["xattrname"] = TestData.Marker("xattrname"),
            ["fifo"] = TestData.Marker("fifo"),
            ["mmap"] = TestData.Marker("mmap"),
        };

        // Contents: a large file full of the marker (at every alignment), a tiny one, an append.
        var content = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(markers["content"] + "!", 40_000)));
        File.WriteAllBytes(volume.PathOf("big.txt"), content);
        File.WriteAllText(volume.PathOf("tiny.txt"), markers["small"]);
        File.WriteAllText(volume.PathOf("log.txt"), "start ");
        File.AppendAllText(volume.PathOf("log.txt"), markers["appended"]);

        // Names: a file, a directory, a name longer than encrypted names can carry directly.
        var dir = volume.PathOf(markers["dirname"]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, markers["filename"]), "named");
        var longName = string.Concat(Enumerable.Repeat(markers["longname"], 7)); // 224 bytes
        File.WriteAllText(Path.Combine(dir, longName), "long");
        Shell($"mkfifo '{volume.PathOf(markers["fifo"])}'").EnsureSuccess();

        // A symlink target, xattr names and values.
        File.CreateSymbolicLink(volume.PathOf("link"), "../" + markers["symlink"]);
        Shell($"setfattr -n user.note -v '{markers["xattrvalue"]}' '{volume.PathOf("tiny.txt")}'").EnsureSuccess();
        Shell($"setfattr -n 'user.{markers["xattrname"]}' -v 1 '{dir}'").EnsureSuccess();

        // Through a shared mapping as well.
        File.WriteAllBytes(volume.PathOf("mapped"), new byte[8192]);
        Python("import mmap,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nm=mmap.mmap(fd,0)\nm[4000:4032]=sys.argv[2].encode()\nm.flush()", volume.PathOf("mapped"), markers["mmap"]).EnsureSuccess();

        // Everything reads back through the mount first: the markers did go in.
        Assert.Equal(content, File.ReadAllBytes(volume.PathOf("big.txt")));
        Assert.Equal("start " + markers["appended"], File.ReadAllText(volume.PathOf("log.txt")));
        Assert.Equal("long", File.ReadAllText(Path.Combine(dir, longName)));
        Assert.Equal("../" + markers["symlink"], new FileInfo(volume.PathOf("link")).LinkTarget);
        Assert.Equal(markers["mmap"], Encoding.ASCII.GetString(File.ReadAllBytes(volume.PathOf("mapped")), 4000, 32));
        volume.Unmount();

        var findings = BackingScanner.Scan(volume.Backing, markers.Values);
        Assert.True(findings.Count == 0, "plaintext in the backing directory:\n" + string.Join('\n', findings));

        // The scanner itself finds the markers where they are in plaintext (it is not blind).
        using var control = new ScratchDirectory();
        File.WriteAllBytes(Path.Combine(control.Path, "c"), [.. "xx"u8, .. content[5..1000]]);
        File.CreateSymbolicLink(Path.Combine(control.Path, "l"), markers["symlink"]);
        Directory.CreateDirectory(Path.Combine(control.Path, markers["dirname"]));
        Sys.SetXattr(Path.Combine(control.Path, "c"), "user.v", Encoding.ASCII.GetBytes(markers["xattrvalue"]), 0);
        var controlFindings = BackingScanner.Scan(control.Path, markers.Values);
        Assert.Contains(controlFindings, f => f.Contains(markers["content"], StringComparison.Ordinal) && f.StartsWith("content", StringComparison.Ordinal));
        Assert.Contains(controlFindings, f => f.Contains(markers["symlink"], StringComparison.Ordinal) && f.StartsWith("symlink", StringComparison.Ordinal));
        Assert.Contains(controlFindings, f => f.Contains(markers["dirname"], StringComparison.Ordinal) && f.StartsWith("name", StringComparison.Ordinal));
        if (Sys.GetXattr(Path.Combine(control.Path, "c"), "user.v", out _) is not null)
        {
            Assert.Contains(controlFindings, f => f.StartsWith("xattr", StringComparison.Ordinal));
        }

        // And the volume still mounts and reads after the scan (nothing was disturbed).
        volume.Mount();
        Assert.Equal(markers["small"], File.ReadAllText(volume.PathOf("tiny.txt")));
    }
}

/// <summary>Looks for plaintext markers in every byte, name, symlink target and xattr under a directory.</summary>
public static class BackingScanner
{
    public static IReadOnlyList<string> Scan(string root, IEnumerable<string> markers)
    {
        var needles = markers.Select(m => (Text: m, Bytes: Encoding.UTF8.GetBytes(m))).ToList();
        var findings = new List<string>();
        void Check(string kind, string where, ReadOnlySpan<byte> haystack)
        {
            foreach (var (text, bytes) in needles)
            {
                if (haystack.IndexOf(bytes) >= 0)
                {
                    findings.Add($"{kind} {where}: {text}");
                }
            }
        }

        // Regular files only: reading a fifo would block.
        var regular = ProcessRunner.Run("find", [root, "-type", "f", "-print0"]).EnsureSuccess().Stdout
            .Split('\0', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var entries = new List<string> { root };
        entries.AddRange(Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        }));
        foreach (var path in entries)
        {
            var relative = Path.GetRelativePath(root, path);
            Check("name", relative, Encoding.UTF8.GetBytes(relative));
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                Check("symlink", relative, Encoding.UTF8.GetBytes(target));
            }
            else if (regular.Contains(path))
            {
                Check("content", relative, File.ReadAllBytes(path));
            }

            foreach (var name in Sys.ListXattrs(path))
            {
                Check("xattr-name", relative, Encoding.UTF8.GetBytes(name));
                if (Sys.GetXattr(path, name, out _) is { } value)
                {
                    Check("xattr", relative + " " + name, value);
                }
            }
        }

        return findings;
    }
}

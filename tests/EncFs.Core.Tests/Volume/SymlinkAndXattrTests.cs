using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

public class SymlinkAndXattrTests
{
    private static readonly CreateOptions FileMode = new(0x1A4);
    private static readonly CreateOptions DirMode = new(0x1ED);

    [Fact]
    public void Symlinks_round_trip_and_their_targets_are_not_visible_in_the_backing_directory()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        const string target = "../secret-target/SymlinkTargetMarker.txt";
        volume.CreateDirectory("/d", DirMode);
        volume.CreateSymlink("/d/link", target, FileMode);
        var unicode = "ziel/ünïcödé/😀";
        volume.CreateSymlink("/u", unicode, FileMode);

        Assert.Equal(target, volume.ReadSymlink("/d/link"));
        var status = volume.GetStatus("/d/link");
        Assert.True(status.IsSymlink);
        Assert.Equal(Encoding.UTF8.GetByteCount(target), status.Size);

        test.Reopen();
        Assert.Equal(target, test.Volume.ReadSymlink("/d/link"));
        Assert.Equal(unicode, test.Volume.ReadSymlink("/u"));

        var links = BackingView.Entries(test.TreeDir).Where(e => e.Kind == BackingKind.Symlink).ToList();
        Assert.Equal(2, links.Count);
        foreach (var link in links)
        {
            Assert.DoesNotContain("secret", link.LinkTarget!, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("ziel", link.LinkTarget!, StringComparison.Ordinal);
            Assert.Matches("^[A-Za-z0-9_-]+$", link.LinkTarget!);
        }

        // Two links to the same target have different backing targets (random nonce).
        test.Volume.CreateSymlink("/d/link2", target, FileMode);
        var targets = BackingView.Entries(test.TreeDir).Where(e => e.Kind == BackingKind.Symlink).Select(e => e.LinkTarget).ToList();
        Assert.Equal(3, targets.Distinct().Count());
    }

    [Fact]
    public void Symlink_errors()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        test.WriteFile("/f", "x"u8);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => volume.ReadSymlink("/f")).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.ReadSymlink("/none")).Errno);
        Assert.Equal(Errno.EEXIST, Assert.Throws<FsException>(() => volume.CreateSymlink("/f", "t", FileMode)).Errno);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.CreateSymlink("/long", new string('t', 3001), FileMode)).Errno);
        volume.CreateSymlink("/max", new string('t', 3000), FileMode);
        Assert.Equal(3000, volume.ReadSymlink("/max").Length);
        Assert.Equal(Errno.EPERM, Assert.Throws<FsException>(() => volume.SetXattr("/max", "user.a", "b"u8)).Errno);
    }

    [Fact]
    public void A_tampered_symlink_target_gives_EIO()
    {
        using var test = TestVolume.Create();
        test.Volume.CreateSymlink("/l", "somewhere", FileMode);
        test.Close();
        var backing = BackingView.Entries(test.TreeDir).Single(e => e.Kind == BackingKind.Symlink);
        var path = Path.Combine(test.TreeDir, backing.RelativePath);
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(backing.LinkTarget!);
        bytes[^1] ^= 1;
        File.Delete(path);
        File.CreateSymbolicLink(path, System.Buffers.Text.Base64Url.EncodeToString(bytes));

        var e = Assert.Throws<FsException>(() => test.Volume.ReadSymlink("/l"));
        Assert.Equal(Errno.EIO, e.Errno);
    }

    [Fact]
    public void Xattrs_set_get_list_remove_on_files_and_directories()
    {
        using var test = TestVolume.Create(infrastructure: true);
        var volume = test.Volume;
        test.WriteFile("/f", "x"u8);
        volume.CreateDirectory("/d", DirMode);
        foreach (var path in new[] { "/f", "/d", "/" })
        {
            volume.SetXattr(path, "user.XattrNameMarker", "XattrValueMarker-1"u8);
            volume.SetXattr(path, "user.empty", ReadOnlySpan<byte>.Empty);
            volume.SetXattr(path, "user.binary", new byte[] { 0, 1, 2, 255 });
            Assert.Equal("XattrValueMarker-1"u8.ToArray(), volume.GetXattr(path, "user.XattrNameMarker"));
            var empty = volume.GetXattr(path, "user.empty");
            Assert.NotNull(empty);
            Assert.Empty(empty);
            Assert.Equal([0, 1, 2, 255], volume.GetXattr(path, "user.binary"));
            Assert.Null(volume.GetXattr(path, "user.missing"));
            Assert.Equal(["user.XattrNameMarker", "user.binary", "user.empty"], volume.ListXattrs(path).Order(StringComparer.Ordinal));

            volume.SetXattr(path, "user.XattrNameMarker", "XattrValueMarker-2"u8, XattrMode.Replace);
            Assert.Equal("XattrValueMarker-2"u8.ToArray(), volume.GetXattr(path, "user.XattrNameMarker"));
            var exists = Assert.Throws<FsException>(() => volume.SetXattr(path, "user.XattrNameMarker", "v"u8, XattrMode.Create));
            Assert.Equal(Errno.EEXIST, exists.Errno);
            Assert.Equal("XattrValueMarker-2"u8.ToArray(), volume.GetXattr(path, "user.XattrNameMarker"));
            Assert.Equal(Errno.ENODATA, Assert.Throws<FsException>(() => volume.SetXattr(path, "user.new", "v"u8, XattrMode.Replace)).Errno);
            volume.SetXattr(path, "user.new", "v"u8, XattrMode.Create);

            volume.RemoveXattr(path, "user.binary");
            Assert.Null(volume.GetXattr(path, "user.binary"));
            Assert.Equal(Errno.ENODATA, Assert.Throws<FsException>(() => volume.RemoveXattr(path, "user.binary")).Errno);
        }

        test.Reopen();
        Assert.Equal(["user.XattrNameMarker", "user.empty", "user.new"], test.Volume.ListXattrs("/d").Order(StringComparer.Ordinal));
        Assert.Equal("XattrValueMarker-2"u8.ToArray(), test.Volume.GetXattr("/f", "user.XattrNameMarker"));
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => test.Volume.GetXattr("/f", string.Empty)).Errno);

        // Nothing of the names or values is visible in the backing attributes.
        var backing = BackingView.Entries(test.BackingDir);
        var attributes = backing.SelectMany(e => e.Xattrs).ToList();
        Assert.Equal(9, attributes.Count);
        foreach (var (name, value) in attributes)
        {
            Assert.StartsWith("user.efs.", name, StringComparison.Ordinal);
            Assert.DoesNotContain("Marker", name, StringComparison.Ordinal);
            Assert.DoesNotContain("empty", name, StringComparison.Ordinal);
            Assert.DoesNotContain("new", name, StringComparison.Ordinal);
            Assert.Equal(-1, value.AsSpan().IndexOf("XattrValueMarker"u8));
            Assert.True(value.Length >= 32, "every value carries a nonce and a SIV tag");
        }
    }

    [Fact]
    public void Foreign_backing_xattrs_are_not_listed_and_tampered_values_give_EIO()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "x"u8);
        test.Volume.SetXattr("/f", "user.a", "value"u8);
        var backing = BackingView.FileOf(test.Volume, "/f");
        NativeXattr.Set(backing, "user.foreign", "x"u8);
        NativeXattr.Set(backing, "user.efs.bm90LWEtbmFtZQ", "x"u8);
        Assert.Equal(["user.a"], test.Volume.ListXattrs("/f"));

        var stored = NativeXattr.List(backing).Single(n => n.StartsWith("user.efs.", StringComparison.Ordinal) && n != "user.efs.bm90LWEtbmFtZQ");
        var value = NativeXattr.Get(backing, stored);
        value[^1] ^= 1;
        NativeXattr.Set(backing, stored, value);
        Assert.Equal(Errno.EIO, Assert.Throws<FsException>(() => test.Volume.GetXattr("/f", "user.a")).Errno);
    }

    [Fact]
    public void An_xattr_value_moved_to_another_name_fails_authentication()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "x"u8);
        test.Volume.SetXattr("/f", "user.a", "AAA"u8);
        test.Volume.SetXattr("/f", "user.b", "BBB"u8);
        var backing = BackingView.FileOf(test.Volume, "/f");
        var names = NativeXattr.List(backing);
        Assert.Equal(2, names.Count);
        var first = NativeXattr.Get(backing, names[0]);
        NativeXattr.Set(backing, names[1], first);
        var failures = new[] { "user.a", "user.b" }.Count(n => Record.Exception(() => test.Volume.GetXattr("/f", n)) is FsException { Errno: Errno.EIO });
        Assert.Equal(1, failures);
    }
}

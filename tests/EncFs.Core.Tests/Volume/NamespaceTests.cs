using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

public class NamespaceTests
{
    private static readonly CreateOptions FileMode = new(0x1A4);
    private static readonly CreateOptions DirMode = new(0x1ED);

    [Fact]
    public void Mkdir_readdir_rename_unlink_rmdir()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.CreateDirectory("/docs", DirMode);
        volume.CreateDirectory("/docs/deep", DirMode);
        test.WriteFile("/docs/a.txt", "A"u8);
        test.WriteFile("/docs/deep/b.txt", "B"u8);
        volume.CreateSymlink("/docs/link", "a.txt", FileMode);

        var entries = volume.ReadDirectory("/docs");
        Assert.Equal(["a.txt", "deep", "link"], entries.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(FileStatus.Directory, entries.Single(e => e.Name == "deep").Type);
        Assert.Equal(FileStatus.Regular, entries.Single(e => e.Name == "a.txt").Type);
        Assert.Equal(FileStatus.Symlink, entries.Single(e => e.Name == "link").Type);
        Assert.All(entries, e => Assert.Null(e.Status));
        Assert.Equal(1, volume.ReadDirectory("/docs", withStatus: true).Single(e => e.Name == "a.txt").Status!.Value.Size);
        Assert.Equal(["docs"], volume.ReadDirectory("/").Select(e => e.Name));
        Assert.True(volume.GetStatus("/docs/deep").IsDirectory);
        Assert.True(volume.GetStatus("/").IsDirectory);

        volume.Rename("/docs/a.txt", "/docs/deep/moved.txt");
        Assert.Equal("A"u8.ToArray(), test.ReadFile("/docs/deep/moved.txt"));
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.GetStatus("/docs/a.txt")).Errno);

        // Renaming a directory keeps its contents reachable under the new name.
        volume.Rename("/docs/deep", "/top");
        Assert.Equal("B"u8.ToArray(), test.ReadFile("/top/b.txt"));
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.ReadDirectory("/docs/deep")).Errno);
        test.WriteFile("/top/c.txt", "C"u8);

        test.Reopen();
        volume = test.Volume;
        Assert.Equal(["b.txt", "c.txt", "moved.txt"], volume.ReadDirectory("/top").Select(e => e.Name).Order(StringComparer.Ordinal));
        volume.Unlink("/top/b.txt");
        volume.Unlink("/top/c.txt");
        volume.Unlink("/top/moved.txt");
        volume.RemoveDirectory("/top");
        volume.Unlink("/docs/link");
        volume.RemoveDirectory("/docs");
        Assert.Empty(volume.ReadDirectory("/"));
        Assert.Equal([".efsdir"], BackingView.ListNames(test.TreeDir));
    }

    [Fact]
    public void Errors_carry_the_posix_errno()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.CreateDirectory("/d", DirMode);
        test.WriteFile("/d/f", "x"u8);
        test.WriteFile("/file", "x"u8);

        Assert.Equal(Errno.ENOTEMPTY, Assert.Throws<FsException>(() => volume.RemoveDirectory("/d")).Errno);
        Assert.Equal(Errno.EISDIR, Assert.Throws<FsException>(() => volume.Unlink("/d")).Errno);
        Assert.Equal(Errno.ENOTDIR, Assert.Throws<FsException>(() => volume.RemoveDirectory("/file")).Errno);
        Assert.Equal(Errno.EEXIST, Assert.Throws<FsException>(() => volume.CreateDirectory("/d", DirMode)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.CreateDirectory("/missing/d", DirMode)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.Unlink("/nothing")).Errno);
        Assert.Equal(Errno.ENOTDIR, Assert.Throws<FsException>(() => volume.ReadDirectory("/file")).Errno);
        Assert.Equal(Errno.ENOTDIR, Assert.Throws<FsException>(() => volume.GetStatus("/file/x")).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => volume.GetStatus("relative")).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => volume.GetStatus("/d/../file")).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<FsException>(() => volume.Link("/d", "/d2")).Errno);
        Assert.True(volume.GetStatus("/d/f").IsRegular);
    }

    [Fact]
    public void Rename_with_NoReplace_refuses_an_existing_destination()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/a", "A"u8);
        test.WriteFile("/b", "B"u8);
        var e = Assert.Throws<FsException>(() => test.Volume.Rename("/a", "/b", RenameFlags.NoReplace));
        Assert.Equal(Errno.EEXIST, e.Errno);
        Assert.Equal("A"u8.ToArray(), test.ReadFile("/a"));
        Assert.Equal("B"u8.ToArray(), test.ReadFile("/b"));

        test.Volume.Rename("/a", "/c", RenameFlags.NoReplace);
        Assert.Equal("A"u8.ToArray(), test.ReadFile("/c"));

        // Without the flag the destination is replaced.
        test.Volume.Rename("/c", "/b");
        Assert.Equal("A"u8.ToArray(), test.ReadFile("/b"));
        Assert.Equal(["b"], test.Volume.ReadDirectory("/").Select(x => x.Name));
    }

    [Fact]
    public void Rename_with_Exchange_swaps_files_and_directories()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        test.WriteFile("/a", "A"u8);
        volume.CreateDirectory("/dir", DirMode);
        test.WriteFile("/dir/inner", "I"u8);
        volume.CreateDirectory("/other", DirMode);
        test.WriteFile("/other/b", "B"u8);

        volume.Rename("/a", "/dir", RenameFlags.Exchange);
        Assert.Equal("A"u8.ToArray(), test.ReadFile("/dir"));
        Assert.Equal("I"u8.ToArray(), test.ReadFile("/a/inner"));

        volume.Rename("/a/inner", "/other/b", RenameFlags.Exchange);
        Assert.Equal("B"u8.ToArray(), test.ReadFile("/a/inner"));
        Assert.Equal("I"u8.ToArray(), test.ReadFile("/other/b"));

        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => volume.Rename("/a", "/missing", RenameFlags.Exchange)).Errno);

        test.Reopen();
        Assert.Equal("I"u8.ToArray(), test.ReadFile("/other/b"));
        Assert.Equal("B"u8.ToArray(), test.ReadFile("/a/inner"));
    }

    [Fact]
    public void A_directory_can_replace_an_empty_directory()
    {
        // POSIX rename(2): a directory may replace an empty one. The backing directory of an empty
        // plaintext directory still holds its .efsdir.
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.CreateDirectory("/src", DirMode);
        test.WriteFile("/src/f", "F"u8);
        volume.CreateDirectory("/empty", DirMode);
        volume.CreateDirectory("/full", DirMode);
        test.WriteFile("/full/g", "G"u8);

        volume.Rename("/src", "/empty");
        Assert.Equal("F"u8.ToArray(), test.ReadFile("/empty/f"));
        Assert.Equal(["empty", "full"], volume.ReadDirectory("/").Select(e => e.Name).Order(StringComparer.Ordinal));

        Assert.Equal(Errno.ENOTEMPTY, Assert.Throws<FsException>(() => volume.Rename("/empty", "/full")).Errno);
        Assert.Equal("G"u8.ToArray(), test.ReadFile("/full/g"));
        Assert.Equal("F"u8.ToArray(), test.ReadFile("/empty/f"));

        volume.CreateDirectory("/empty2", DirMode);
        Assert.Equal(Errno.EEXIST, Assert.Throws<FsException>(() => volume.Rename("/full", "/empty2", RenameFlags.NoReplace)).Errno);
        Assert.Empty(volume.ReadDirectory("/empty2"));

        test.Reopen();
        Assert.Equal("F"u8.ToArray(), test.ReadFile("/empty/f"));
        Assert.Empty(test.Volume.ReadDirectory("/empty2"));
    }

    [Fact]
    public void Rename_between_file_and_directory_kinds_is_refused()
    {
        using var test = TestVolume.Create();
        test.Volume.CreateDirectory("/d", DirMode);
        test.WriteFile("/f", "x"u8);
        Assert.Equal(Errno.EISDIR, Assert.Throws<FsException>(() => test.Volume.Rename("/f", "/d")).Errno);
        Assert.Equal(Errno.ENOTDIR, Assert.Throws<FsException>(() => test.Volume.Rename("/d", "/f")).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => test.Volume.Rename("/d", "/d/sub")).Errno);
    }

    [Theory]
    // Names are padded to 16 bytes before AES-SIV (docs/FORMAT.md section 6): a 160-byte name
    // seals to 16 + 160 bytes, 235 characters of b64u; 161 bytes pad to 176 and seal to 192
    // bytes, 256 characters, one more than a backing name may have.
    [InlineData(160, false)]
    [InlineData(161, true)]
    [InlineData(255, true)]
    public void Names_up_to_255_bytes_work_and_long_ones_use_a_sidecar(int bytes, bool hashed)
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        var name = new string('n', bytes);
        test.WriteFile("/" + name, "long"u8);
        volume.CreateDirectory("/d" + name[1..], DirMode);
        test.WriteFile("/d" + name[1..] + "/" + name, "inner"u8);

        var backing = BackingView.ListNames(test.TreeDir);
        var sidecars = backing.Where(n => n.StartsWith('~') && n.EndsWith(".name", StringComparison.Ordinal)).ToList();
        var hashedEntries = backing.Where(n => n.StartsWith('~') && !n.EndsWith(".name", StringComparison.Ordinal)).ToList();
        Assert.Equal(hashed ? 2 : 0, hashedEntries.Count);
        Assert.Equal(hashed ? 2 : 0, sidecars.Count);
        Assert.All(backing, n => Assert.True(Encoding.UTF8.GetByteCount(n) <= 255));
        foreach (var entry in hashedEntries)
        {
            Assert.Contains(entry + ".name", sidecars);
            var encrypted = File.ReadAllText(Path.Combine(test.TreeDir, entry + ".name"));
            Assert.True(encrypted.Length > 255);
            Assert.DoesNotContain('\n', encrypted);
            Assert.Equal(entry, "~" + System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(encrypted))));
        }

        test.Reopen();
        volume = test.Volume;
        Assert.Equal(["d" + name[1..], name], volume.ReadDirectory("/").Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal("long"u8.ToArray(), test.ReadFile("/" + name));
        Assert.Equal("inner"u8.ToArray(), test.ReadFile("/d" + name[1..] + "/" + name));

        // Renames and removals keep sidecars in step with their entries.
        volume.Rename("/" + name, "/short");
        Assert.Equal("long"u8.ToArray(), test.ReadFile("/short"));
        volume.Rename("/short", "/" + name);
        volume.Link("/" + name, "/" + name[..^1] + "L");
        volume.Unlink("/d" + name[1..] + "/" + name);
        volume.RemoveDirectory("/d" + name[1..]);
        volume.Unlink("/" + name);
        foreach (var entry in volume.ReadDirectory("/"))
        {
            volume.Unlink("/" + entry.Name);
        }

        Assert.Equal([".efsdir"], BackingView.ListNames(test.TreeDir));
    }

    [Fact]
    public void Multibyte_names_are_limited_by_bytes_not_characters()
    {
        using var test = TestVolume.Create();
        var fits = new string('é', 127) + "a"; // 255 UTF-8 bytes
        var tooLong = new string('é', 128); // 256 UTF-8 bytes, 128 characters
        test.WriteFile("/" + fits, "ok"u8);
        Assert.Equal("ok"u8.ToArray(), test.ReadFile("/" + fits));
        var e = Assert.Throws<FsException>(() => test.Volume.CreateFile("/" + tooLong, FileMode));
        Assert.Equal(Errno.ENAMETOOLONG, e.Errno);
        Assert.Equal(["efs-emoji-😀-名前", fits], AddAndList(test, "efs-emoji-😀-名前"));
    }

    [Fact]
    public void Names_longer_than_255_bytes_give_ENAMETOOLONG_everywhere()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        var name = new string('x', 256);
        test.WriteFile("/f", "x"u8);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.CreateFile("/" + name, FileMode)).Errno);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.CreateDirectory("/" + name, DirMode)).Errno);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.CreateSymlink("/" + name, "t", FileMode)).Errno);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.Rename("/f", "/" + name)).Errno);
        Assert.Equal(Errno.ENAMETOOLONG, Assert.Throws<FsException>(() => volume.GetStatus("/" + name + "/f")).Errno);
        Assert.Equal(["f"], volume.ReadDirectory("/").Select(e => e.Name));
        Assert.Equal(2, BackingView.ListNames(test.TreeDir).Length); // .efsdir and /f: nothing was left behind
    }

    [Fact]
    public void The_same_name_encrypts_differently_in_each_directory_and_deterministically_within_one()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.CreateDirectory("/one", DirMode);
        volume.CreateDirectory("/two", DirMode);
        test.WriteFile("/one/report.txt", "1"u8);
        test.WriteFile("/two/report.txt", "2"u8);
        test.WriteFile("/report.txt", "0"u8);

        var one = Path.Combine(test.TreeDir, Path.GetFileName(Path.GetDirectoryName(BackingView.FileOf(volume, "/one/report.txt")))!);
        var inOne = Path.GetFileName(BackingView.FileOf(volume, "/one/report.txt"));
        var inTwo = Path.GetFileName(BackingView.FileOf(volume, "/two/report.txt"));
        var inRoot = Path.GetFileName(BackingView.FileOf(volume, "/report.txt"));
        Assert.True(Directory.Exists(one));
        Assert.NotEqual(inOne, inTwo);
        Assert.NotEqual(inOne, inRoot);
        Assert.NotEqual(inTwo, inRoot);

        // Deterministic within a directory: recreating the file gives the same backing name.
        volume.Unlink("/one/report.txt");
        test.WriteFile("/one/report.txt", "again"u8);
        Assert.Equal(inOne, Path.GetFileName(BackingView.FileOf(volume, "/one/report.txt")));
    }

    [Fact]
    public void Plaintext_names_starting_with_dot_or_tilde_are_ordinary_entries()
    {
        using var test = TestVolume.Create();
        Assert.Equal([".efsdir", ".hidden", "~tilde", "~tilde.name"], AddAndList(test, ".hidden", "~tilde", "~tilde.name", ".efsdir"));
    }

    [Fact]
    public void Foreign_or_undecryptable_backing_entries_are_skipped_in_listings()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/real", "r"u8);
        File.WriteAllText(Path.Combine(test.TreeDir, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "planted");
        File.WriteAllText(Path.Combine(test.TreeDir, "not base64!"), "planted");
        File.WriteAllText(Path.Combine(test.TreeDir, "~bogus"), "planted");
        Assert.Equal(["real"], test.Volume.ReadDirectory("/").Select(e => e.Name));
    }

    [Fact]
    public void Special_files_fifos_only_and_no_device_nodes()
    {
        using var test = TestVolume.Create();
        test.Volume.CreateSpecial("/pipe", new CreateOptions(FileStatus.Fifo | 0x1A4));
        Assert.Equal(FileStatus.Fifo, test.Volume.GetStatus("/pipe").Type);
        Assert.Equal(Errno.EPERM, Assert.Throws<FsException>(() => test.Volume.CreateSpecial("/dev", new CreateOptions(0x2000 | 0x1A4))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => test.Volume.OpenFile("/pipe", FileAccess.Read)).Errno);
        Assert.Equal("special", test.Volume.GetEncryptionStatus("/pipe").Kind);
    }

    [Fact]
    public void Mode_and_times_are_kept_on_the_backing_entry()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "x"u8);
        test.Volume.SetMode("/f", 0x180);
        Assert.Equal(0x180u, test.Volume.GetStatus("/f").Mode & 0xFFF);
        var when = new UnixTime(1_000_000_000, 5);
        test.Volume.SetTimes("/f", when, when);
        Assert.Equal(when, test.Volume.GetStatus("/f").ModifyTime);
        test.Volume.SetOwner("/f", 1234, 5678);
        Assert.Equal(1234u, test.Volume.GetStatus("/f").Uid);
        test.Volume.SyncDirectory("/");
    }

    private static string[] AddAndList(TestVolume test, params string[] names)
    {
        foreach (var name in names)
        {
            test.WriteFile("/" + name, "x"u8);
        }

        test.Reopen();
        return [.. test.Volume.ReadDirectory("/").Select(e => e.Name).Order(StringComparer.Ordinal)];
    }
}

using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

public class VolumeLifecycleTests
{
    private static readonly CreateOptions FileMode = new(0x1A4);

    [Fact]
    public void Create_lays_out_the_documented_backing_directory()
    {
        using var test = TestVolume.Create();
        var names = BackingView.ListNames(test.BackingDir);
        Assert.Equal(["efs.lock", "efs.volume", "efs.volume.bak", "root"], names);
        Assert.Equal([".efsdir"], BackingView.ListNames(test.TreeDir));
        Assert.Equal(76, new FileInfo(Path.Combine(test.TreeDir, ".efsdir")).Length);
        Assert.Equal(File.ReadAllBytes(Path.Combine(test.BackingDir, "efs.volume")), File.ReadAllBytes(Path.Combine(test.BackingDir, "efs.volume.bak")));
    }

    [Fact]
    public void Create_then_open_round_trips_data_and_header()
    {
        using var test = TestVolume.Create(sectorSize: 512, infrastructure: true);
        var volume = test.Volume;
        Assert.False(volume.ReadOnly);
        Assert.Equal(512, volume.Header.SectorSize);
        var scope = Assert.Single(volume.Header.Scopes);
        Assert.Equal("default", scope.Name);
        Assert.True(scope.InfrastructureEncryption);
        Assert.Equal(RawKeySource.Type, scope.KeySourceType);
        test.WriteFile("/hello.txt", "hello, volume"u8);

        var reopened = test.Reopen();
        Assert.Equal(volume.Header.VolumeId, reopened.Header.VolumeId);
        Assert.Equal("hello, volume"u8.ToArray(), test.ReadFile("/hello.txt"));
    }

    [Fact]
    public void Create_into_a_missing_directory_makes_it()
    {
        using var temp = new TempDir();
        var backing = temp.Combine("a", "b");
        var keys = RawKeySource.NewRandom();
        using (var kek = keys.CreateKek())
        {
            EncryptedVolume.Create(backing, new VolumeCreateOptions(), RawKeySource.Descriptor(), kek);
        }

        using var volume = EncryptedVolume.Open(backing, keys);
        Assert.Equal(4096, volume.Header.SectorSize);
    }

    [Fact]
    public void Create_refuses_a_non_empty_directory_and_changes_nothing()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.Combine("notes.txt"), "mine");
        var before = BackingView.Snapshot(temp.Path);
        using var kek = RawKeySource.NewRandom().CreateKek();
        var e = Assert.Throws<FsException>(() => EncryptedVolume.Create(temp.Path, new VolumeCreateOptions(), RawKeySource.Descriptor(), kek));
        Assert.Equal(Errno.ENOTEMPTY, e.Errno);
        Assert.Contains("not empty", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, BackingView.Snapshot(temp.Path));
    }

    [Fact]
    public void Create_refuses_an_existing_volume_and_changes_nothing()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "data"u8);
        test.Close();
        var before = BackingView.Snapshot(test.BackingDir);
        using var kek = RawKeySource.NewRandom().CreateKek();
        var e = Assert.Throws<FsException>(() => EncryptedVolume.Create(test.BackingDir, new VolumeCreateOptions(), RawKeySource.Descriptor(), kek));
        Assert.Equal(Errno.EEXIST, e.Errno);
        Assert.Contains("already holds an EncFs volume", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
        Assert.Equal("data"u8.ToArray(), test.ReadFile("/f"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(256)]
    [InlineData(1000)]
    [InlineData(131072)]
    public void Create_refuses_an_invalid_sector_size(int sectorSize)
    {
        using var temp = new TempDir();
        using var kek = RawKeySource.NewRandom().CreateKek();
        var e = Assert.Throws<ArgumentException>(() => EncryptedVolume.Create(temp.Combine("v"), new VolumeCreateOptions { SectorSize = sectorSize }, RawKeySource.Descriptor(), kek));
        Assert.Contains(sectorSize.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("v")));
    }

    [Fact]
    public void Open_of_a_directory_that_is_not_a_volume_says_so()
    {
        using var temp = new TempDir();
        File.WriteAllText(temp.Combine("x"), "x");
        var e = Assert.Throws<FsException>(() => EncryptedVolume.Open(temp.Path, RawKeySource.NewRandom()));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("is not an EncFs volume", e.Message, StringComparison.Ordinal);
        Assert.Contains("efs init", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.Combine("efs.lock")));

        var missing = Assert.Throws<FsException>(() => EncryptedVolume.Open(temp.Combine("nope"), RawKeySource.NewRandom()));
        Assert.Equal(Errno.ENOENT, missing.Errno);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wrong_key_throws_WrongKeyException_and_changes_nothing(bool readOnly)
    {
        using var test = TestVolume.Create(infrastructure: true);
        test.WriteFile("/secret.txt", "classified"u8);
        test.Volume.CreateDirectory("/dir", new CreateOptions(0x1ED));
        test.Volume.SetXattr("/secret.txt", "user.tag", "v"u8);
        test.Close();
        // Damage the backup too, so a successful open would have to repair it.
        File.WriteAllText(Path.Combine(test.BackingDir, "efs.volume.bak"), "damaged");
        var before = BackingView.Snapshot(test.BackingDir);

        var wrong = test.Keys.WithWrongKey();
        Assert.Throws<WrongKeyException>(() => EncryptedVolume.Open(test.BackingDir, wrong, new VolumeOpenOptions { ReadOnly = readOnly }));

        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
        Assert.Equal("classified"u8.ToArray(), test.ReadFile("/secret.txt"));
    }

    [Fact]
    public void A_key_source_of_another_type_is_refused_with_a_key_access_error()
    {
        using var test = TestVolume.Create();
        test.Close();
        var other = new ForeignKeySource();
        var e = Assert.ThrowsAny<KeyAccessException>(() => EncryptedVolume.Open(test.BackingDir, other));
        Assert.Contains("not available here", e.Message, StringComparison.Ordinal);
        using var volume = test.Open();
    }

    [Fact]
    public void A_second_writer_gets_EBUSY_while_readers_may_open()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "shared"u8);
        var first = test.Volume;

        var e = Assert.Throws<FsException>(() => test.Open());
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Contains($"already open by process {Environment.ProcessId}", e.Message, StringComparison.Ordinal);

        using (var reader = test.Open(readOnly: true))
        {
            Assert.True(reader.ReadOnly);
            Assert.Equal("shared"u8.ToArray(), TestVolume.ReadAll(reader, "/f"));
            var rofs = Assert.Throws<FsException>(() => reader.CreateFile("/g", FileMode));
            Assert.Equal(Errno.EROFS, rofs.Errno);
            Assert.Equal(Errno.EROFS, Assert.Throws<FsException>(() => reader.OpenFile("/f", FileAccess.ReadWrite)).Errno);
            Assert.Equal(Errno.EROFS, Assert.Throws<FsException>(() => reader.CreateDirectory("/d", new CreateOptions(0x1ED))).Errno);
            Assert.Equal(Errno.EROFS, Assert.Throws<FsException>(() => reader.SetXattr("/f", "user.a", "b"u8)).Errno);
            Assert.Equal(Errno.EROFS, Assert.Throws<FsException>(() => reader.Unlink("/f")).Errno);
        }

        // The reader's open and close did not disturb the writer.
        first.CreateFile("/after", FileMode).Dispose();
        first.Dispose();

        using var second = test.Open();
        Assert.Contains(second.ReadDirectory("/"), entry => entry.Name == "after");
    }

    [Fact]
    public void Dispose_releases_the_lock_and_is_idempotent()
    {
        using var test = TestVolume.Create();
        var volume = test.Open();
        volume.Dispose();
        volume.Dispose();
        using var again = test.Open();
        Assert.Equal(Errno.EBUSY, Assert.Throws<FsException>(() => test.Open()).Errno);
    }

    [Fact]
    public void Handles_left_open_are_closed_with_the_volume_and_may_be_disposed_afterwards()
    {
        using var test = TestVolume.Create();
        var handle = test.Volume.CreateFile("/f", FileMode);
        handle.Write(0, "data"u8);
        handle.Sync();
        test.Volume.SyncDirectory("/");
        test.Close();
        handle.Dispose();
        Assert.Equal("data"u8.ToArray(), test.ReadFile("/f"));
    }

    [Fact]
    public void The_filesystem_status_reports_the_plaintext_name_limit()
    {
        using var test = TestVolume.Create();
        var status = test.Volume.GetFileSystemStatus();
        Assert.Equal(255UL, status.NameMax);
        Assert.True(status.Blocks > 0);
    }

    private sealed class ForeignKeySource : IKeySource
    {
        public IKeyEncryptionKey GetKek(ScopeRecord scope) =>
            throw new KeyAccessException($"key source '{scope.KeySourceType}' is not available here");
    }
}

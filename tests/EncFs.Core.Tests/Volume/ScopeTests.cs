using System.Security.Cryptography;
using EncFs.Core.Backing;
using EncFs.Core.Format;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

/// <summary>
/// Encryption scopes. The volume has no public operation that adds a scope, so a second scope is
/// added through the header and the internal SaveHeader (<see cref="Scopes.Add"/>).
/// </summary>
public class ScopeTests
{
    private static readonly CreateOptions FileMode = new(0x1A4);
    private static readonly CreateOptions DirMode = new(0x1ED);

    [Fact]
    public void A_deny_override_directory_refuses_entries_of_another_scope()
    {
        using var test = TestVolume.Create();
        Scopes.Add(test.Volume, test.Keys, "second");
        var volume = test.Reopen();
        volume.CreateDirectory("/strict", DirMode with { DenyOverride = true });
        volume.CreateDirectory("/open", DirMode);
        test.WriteFile("/open/other", "o"u8);
        using (volume.CreateFile("/open/second-file", FileMode with { Scope = "second" }))
        {
        }

        var e = Assert.Throws<FsException>(() => volume.CreateFile("/strict/f", FileMode with { Scope = "second" }));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("requires scope 'default'", e.Message, StringComparison.Ordinal);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.CreateDirectory("/strict/d", DirMode with { Scope = "second" })).Errno);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.CreateSymlink("/strict/l", "t", FileMode with { Scope = "second" })).Errno);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.Rename("/open/second-file", "/strict/moved")).Errno);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.Link("/open/second-file", "/strict/linked")).Errno);
        Assert.Empty(volume.ReadDirectory("/strict"));
        Assert.Equal([".efsdir"], BackingView.ListNames(BackingView.FileOf(volume, "/strict")));

        // The directory's own scope is fine, named or implied, and nested directories inherit the policy.
        using (volume.CreateFile("/strict/explicit", FileMode with { Scope = "default" }))
        {
        }

        volume.Rename("/open/other", "/strict/other");
        volume.CreateDirectory("/strict/nested", DirMode);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.CreateFile("/strict/nested/f", FileMode with { Scope = "second" })).Errno);

        // The policy lives in the authenticated .efsdir, so it survives a reopen.
        volume = test.Reopen();
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.CreateFile("/strict/f", FileMode with { Scope = "second" })).Errno);
        Assert.Equal(["explicit", "nested", "other"], volume.ReadDirectory("/strict").Select(x => x.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_override_is_allowed_where_not_denied_and_is_reported_by_the_status()
    {
        using var test = TestVolume.Create();
        Scopes.Add(test.Volume, test.Keys, "second", infrastructure: true);
        var volume = test.Reopen();
        using (var handle = volume.CreateFile("/f", FileMode with { Scope = "second" }))
        {
            handle.Write(0, new byte[5000]);
        }

        volume.CreateDirectory("/d", DirMode with { Scope = "second" });
        test.WriteFile("/d/inner", "i"u8);

        var file = volume.GetEncryptionStatus("/f");
        Assert.Equal("second", file.ScopeName);
        Assert.True(file.InfrastructureEncryption);
        Assert.Equal("ChaCha20-Poly1305", file.InfrastructureCipher);
        // The scope's infrastructure layer applies even though the volume's default has none.
        Assert.Equal(96 + (2 * (4096 + 28)), new FileInfo(BackingView.FileOf(volume, "/f")).Length);
        Assert.Equal("second", volume.GetEncryptionStatus("/d").ScopeName);
        Assert.Equal("second", volume.GetEncryptionStatus("/d/inner").ScopeName); // the directory's scope is the default inside it
        Assert.Equal("default", volume.GetEncryptionStatus("/").ScopeName);
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => volume.CreateFile("/g", FileMode with { Scope = "nope" })).Errno);

        volume = test.Reopen();
        Assert.Equal(5000, TestVolume.ReadAll(volume, "/f").Length);
        Assert.Equal("i"u8.ToArray(), test.ReadFile("/d/inner"));
    }

    [Fact]
    public void A_scope_whose_key_is_unavailable_stays_locked_and_its_entries_give_EACCES()
    {
        using var test = TestVolume.Create();
        var secondKey = RandomNumberGenerator.GetBytes(32);
        test.Keys.WithScopeKey("second", secondKey);
        Scopes.Add(test.Volume, test.Keys, "second");
        var volume = test.Reopen();
        test.WriteFile("/default-file", "d"u8);
        using (var handle = volume.CreateFile("/locked-file", FileMode with { Scope = "second" }))
        {
            handle.Write(0, new byte[4096]);
        }

        volume.CreateDirectory("/locked-dir", DirMode with { Scope = "second" });
        test.Close();

        secondKey[0] ^= 1;
        var withoutSecond = test.Keys.CopyWithScopeKey("second", secondKey);
        using var partial = EncryptedVolume.Open(test.BackingDir, withoutSecond);
        Assert.Equal("d"u8.ToArray(), TestVolume.ReadAll(partial, "/default-file"));
        var e = Assert.Throws<FsException>(() => partial.OpenFile("/locked-file", FileAccess.Read));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("locked", e.Message, StringComparison.Ordinal);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => partial.ReadDirectory("/locked-dir")).Errno);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => partial.CreateFile("/new", FileMode with { Scope = "second" })).Errno);
        // Still listed, with the sector-rounded size, so it can be seen and removed.
        var entries = partial.ReadDirectory("/", withStatus: true);
        Assert.Equal(4096, entries.Single(x => x.Name == "locked-file").Status!.Value.Size);
        partial.Unlink("/locked-file");
    }

    [Fact]
    public void A_disabled_scope_is_refused_at_once()
    {
        using var test = TestVolume.Create();
        Scopes.Add(test.Volume, test.Keys, "second");
        var volume = test.Reopen();
        test.WriteFile("/keep", "k"u8);
        using (var handle = volume.CreateFile("/s", FileMode with { Scope = "second" }))
        {
            handle.Write(0, "second"u8);
        }

        volume.Header.FindScope("second")!.State = ScopeRecord.Disabled;
        var e = Assert.Throws<FsException>(() => volume.OpenFile("/s", FileAccess.Read));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("disabled", e.Message, StringComparison.Ordinal);
        Assert.Equal("disabled", volume.GetEncryptionStatus("/s").ScopeState);
        volume.SaveHeader();

        volume = test.Reopen();
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.OpenFile("/s", FileAccess.Read)).Errno);
        Assert.Equal("k"u8.ToArray(), test.ReadFile("/keep"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_encryption_status_of_a_file_and_a_directory(bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize: 1024, infrastructure);
        test.Volume.CreateDirectory("/d", DirMode);
        test.WriteFile("/d/f", "x"u8);
        var scopeId = test.Volume.Header.DefaultScope;
        foreach (var (path, kind) in new[] { ("/d/f", "file"), ("/d", "directory"), ("/", "directory") })
        {
            var status = test.Volume.GetEncryptionStatus(path);
            Assert.Equal(path, status.Path);
            Assert.Equal(kind, status.Kind);
            Assert.Equal(scopeId, status.ScopeId);
            Assert.Equal("default", status.ScopeName);
            Assert.Equal("enabled", status.ScopeState);
            Assert.Equal(RawKeySource.Type, status.KeySource);
            Assert.Equal(RawKeySource.KeyId, status.KekId);
            Assert.Equal(RawKeySource.KeyVersion, status.KekVersion);
            Assert.Equal(1, status.DekGeneration);
            Assert.Equal(infrastructure, status.InfrastructureEncryption);
            Assert.Equal(1024, status.SectorSize);
            Assert.Equal("AES-256-XTS", status.DataCipher);
            Assert.Equal(infrastructure ? "ChaCha20-Poly1305" : null, status.InfrastructureCipher);
        }

        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => test.Volume.GetEncryptionStatus("/missing")).Errno);
    }

    [Fact]
    public void The_encryption_status_of_a_symlink_names_the_scope_its_target_is_encrypted_with()
    {
        using var test = TestVolume.Create();
        Scopes.Add(test.Volume, test.Keys, "second");
        var volume = test.Reopen();
        volume.CreateSymlink("/plain", "t", FileMode);
        volume.CreateSymlink("/other", "t", FileMode with { Scope = "second" });
        Assert.Equal("symlink", volume.GetEncryptionStatus("/plain").Kind);
        Assert.Equal("default", volume.GetEncryptionStatus("/plain").ScopeName);
        Assert.Equal("second", volume.GetEncryptionStatus("/other").ScopeName);

        // And a deny-override directory of the default scope refuses that link.
        volume.CreateDirectory("/strict", DirMode with { DenyOverride = true });
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.Rename("/other", "/strict/other")).Errno);
        volume.Rename("/plain", "/strict/plain");
        Assert.Equal("t", volume.ReadSymlink("/strict/plain"));
    }
}

using System.Text.Json.Nodes;
using EncFs.Core.Audit;
using EncFs.Core.Backing;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Volume;

/// <summary>Scopes created, disabled and enabled through the public API: persisted, enforced at once, audited.</summary>
public sealed class ScopeLifecycleTests
{
    [Fact]
    public void CreatedScopeIsPersistedAndItsFilesUseIt()
    {
        using var test = TestVolume.Create();
        using (var kek = test.Keys.CreateKek("finance"))
        {
            var scope = test.Volume.CreateScope("finance", RawKeySource.Descriptor(), kek, infrastructureEncryption: true);
            Assert.Equal(1, scope.CurrentGeneration);
        }

        using (var file = test.Volume.CreateFile("/ledger", new CreateOptions(0x1A4, Scope: "finance")))
        {
            file.Write(0, "balance"u8);
        }

        var status = test.Volume.GetEncryptionStatus("/ledger");
        Assert.Equal("finance", status.ScopeName);
        Assert.True(status.InfrastructureEncryption);

        var reopened = test.Reopen();
        Assert.NotNull(reopened.Header.FindScope("finance"));
        Assert.Equal("balance"u8.ToArray(), TestVolume.ReadAll(reopened, "/ledger"));
    }

    [Fact]
    public void ScopeNamesAreCheckedAndNeverReused()
    {
        using var test = TestVolume.Create();
        using var kek = test.Keys.CreateKek();
        Assert.Equal(Errno.EINVAL, Assert.Throws<FsException>(() => test.Volume.CreateScope("bad name", RawKeySource.Descriptor(), kek, false)).Errno);
        Assert.Equal(Errno.EEXIST, Assert.Throws<FsException>(() => test.Volume.CreateScope("default", RawKeySource.Descriptor(), kek, false)).Errno);
    }

    [Fact]
    public void DisablingDeniesAccessAtOnceAndEnablingRestoresIt()
    {
        using var test = TestVolume.Create();
        var auditPath = Path.Combine(test.Temp.Path, "audit.jsonl");
        test.Close();
        using var volume = EncryptedVolume.Open(test.BackingDir, test.Keys, new VolumeOpenOptions { Audit = new JsonLinesAuditLog(auditPath) });
        using (var kek = test.Keys.CreateKek("hr"))
        {
            volume.CreateScope("hr", RawKeySource.Descriptor(), kek, false);
        }

        using (var file = volume.CreateFile("/salaries", new CreateOptions(0x1A4, Scope: "hr")))
        {
            file.Write(0, "secret"u8);
        }

        using (var other = volume.CreateFile("/public", new CreateOptions(0x1A4)))
        {
            other.Write(0, "open"u8);
        }

        volume.SetScopeEnabled("hr", enabled: false);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.OpenFile("/salaries", FileAccess.Read)).Errno);
        Assert.Equal("open"u8.ToArray(), TestVolume.ReadAll(volume, "/public"));
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => volume.CreateFile("/more", new CreateOptions(0x1A4, Scope: "hr"))).Errno);

        volume.SetScopeEnabled("hr", enabled: true);
        Assert.Equal("secret"u8.ToArray(), TestVolume.ReadAll(volume, "/salaries"));

        var lines = File.ReadAllLines(auditPath).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Contains(lines, l => (string?)l["action"] == "scope-create" && (string?)l["scope"] == "hr");
        Assert.Contains(lines, l => (string?)l["action"] == "scope-disable" && (string?)l["scope"] == "hr");
        Assert.Contains(lines, l => (string?)l["action"] == "scope-enable" && (string?)l["scope"] == "hr");
        Assert.Contains(lines, l => (string?)l["action"] == "unwrap" && (string?)l["result"] == "ok");
        Assert.All(lines, l => Assert.NotNull(l["time"]));
        var dek = Convert.ToHexStringLower(volume.GetScopeKeys("hr").DataEncryptionKey);
        Assert.DoesNotContain(dek, File.ReadAllText(auditPath), StringComparison.Ordinal);
    }

    [Fact]
    public void DisabledStateSurvivesReopenAndTheDefaultScopeCannotBeDisabled()
    {
        using var test = TestVolume.Create();
        using (var kek = test.Keys.CreateKek("archive"))
        {
            test.Volume.CreateScope("archive", RawKeySource.Descriptor(), kek, false);
        }

        using (var file = test.Volume.CreateFile("/old", new CreateOptions(0x1A4, Scope: "archive")))
        {
            file.Write(0, "x"u8);
        }

        test.Volume.SetScopeEnabled("archive", enabled: false);
        Assert.Equal(Errno.EPERM, Assert.Throws<FsException>(() => test.Volume.SetScopeEnabled("default", enabled: false)).Errno);

        var reopened = test.Reopen();
        Assert.Equal("disabled", reopened.Header.FindScope("archive")!.State);
        Assert.Equal(Errno.EACCES, Assert.Throws<FsException>(() => reopened.OpenFile("/old", FileAccess.Read)).Errno);

        // Enabled on a volume opened while the scope was disabled: unlocked on the spot.
        reopened.SetScopeEnabled("archive", enabled: true);
        Assert.Equal("x"u8.ToArray(), TestVolume.ReadAll(reopened, "/old"));
    }

    [Fact]
    public void NewFilesUseTheNewDekGenerationAndOldOnesStayReadable()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/before", "generation one"u8);
        using (var kek = test.Keys.CreateKek())
        {
            Assert.Equal(2, test.Volume.RotateDek("default", kek));
        }

        test.WriteFile("/after", "generation two"u8);
        test.Volume.CreateDirectory("/dir-after", new CreateOptions(0x1ED));
        Assert.Equal(1, test.Volume.GetEncryptionStatus("/before").DekGeneration);
        Assert.Equal(2, test.Volume.GetEncryptionStatus("/after").DekGeneration);
        Assert.Equal(2, test.Volume.GetEncryptionStatus("/dir-after").DekGeneration);

        var reopened = test.Reopen();
        Assert.Equal("generation one"u8.ToArray(), TestVolume.ReadAll(reopened, "/before"));
        Assert.Equal("generation two"u8.ToArray(), TestVolume.ReadAll(reopened, "/after"));
    }

    [Fact]
    public void RewrapKeepsEveryGenerationAndRetiresTheOldKek()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/data", "kept"u8);
        using (var kek = test.Keys.CreateKek())
        {
            test.Volume.RotateDek("default", kek);
        }

        var newKeys = RawKeySource.NewRandom();
        using (var newKek = newKeys.CreateKek())
        {
            test.Volume.RewrapScope("default", RawKeySource.Descriptor(), newKek);
        }

        test.Close();
        Assert.Throws<EncFs.Core.Keys.WrongKeyException>(() => EncryptedVolume.Open(test.BackingDir, test.Keys, new VolumeOpenOptions { ReadOnly = true }));
        using var reopened = EncryptedVolume.Open(test.BackingDir, newKeys);
        Assert.Equal("kept"u8.ToArray(), TestVolume.ReadAll(reopened, "/data"));
        Assert.Equal(2, reopened.Header.GetDefaultScope().Keys.Count);
    }
}

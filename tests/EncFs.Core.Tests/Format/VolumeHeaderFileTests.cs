using System.Text.Json.Nodes;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Tests.Support;

namespace EncFs.Core.Tests.Format;

public class VolumeHeaderFileTests
{
    private static string Primary(TestVolume test) => Path.Combine(test.BackingDir, VolumeHeaderFile.PrimaryName);

    private static string Backup(TestVolume test) => Path.Combine(test.BackingDir, VolumeHeaderFile.BackupName);

    [Fact]
    public void The_header_has_the_documented_shape()
    {
        using var test = TestVolume.Create(sectorSize: 1024, infrastructure: true);
        var key = HeaderTool.HeaderKey(test.Volume);
        var volumeId = test.Volume.Header.VolumeId;
        test.Close();

        var content = File.ReadAllBytes(Primary(test));
        var (body, checksum, hmac) = HeaderTool.Split(content);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body)), checksum);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(key, body)), hmac);

        var json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("efs-volume", (string?)json["format"]);
        Assert.Equal(1, (int?)json["version"]);
        Assert.Equal(1, (long?)json["revision"]);
        Assert.Equal(volumeId, (string?)json["volumeId"]);
        Assert.Equal(1024, (int?)json["sectorSize"]);
        var scope = json["scopes"]![0]!.AsObject();
        Assert.Equal((string?)json["defaultScope"], (string?)scope["id"]);
        Assert.Matches("^[0-9a-f]{32}$", (string?)scope["id"]);
        Assert.Equal("default", (string?)scope["name"]);
        Assert.Equal("enabled", (string?)scope["state"]);
        Assert.True((bool?)scope["infrastructureEncryption"]);
        Assert.Equal(RawKeySource.Type, (string?)scope["keySource"]!["type"]);
        Assert.Equal(1, (int?)scope["currentGeneration"]);
        var wrapped = scope["keys"]![0]!;
        Assert.Equal(1, (int?)wrapped["generation"]);
        Assert.Equal(RawKeySource.KeyId, (string?)wrapped["kekId"]);
        Assert.Equal(RawKeySource.KeyVersion, (string?)wrapped["kekVersion"]);
        // nonce(12) || DEK||IK (64, infrastructure) || tag(16)
        Assert.Equal(12 + 64 + 16, Convert.FromBase64String((string)wrapped["wrapped"]!).Length);
    }

    [Fact]
    public void A_corrupt_primary_opens_from_the_backup_and_is_repaired()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "payload"u8);
        test.Close();
        var original = File.ReadAllBytes(Primary(test));
        Flip(Primary(test), original.Length / 3);

        var volume = test.Volume;
        Assert.Equal("payload"u8.ToArray(), test.ReadFile("/f"));

        // Repaired: both copies identical, valid, and one revision further on.
        var primary = File.ReadAllBytes(Primary(test));
        Assert.Equal(primary, File.ReadAllBytes(Backup(test)));
        Assert.Equal(2, (long?)HeaderTool.Body(Primary(test))["revision"]);
        Assert.Equal(2, volume.Header.Revision);
        test.Close();
        File.Delete(Backup(test));
        test.Reopen();
        Assert.Equal("payload"u8.ToArray(), test.ReadFile("/f"));
    }

    [Fact]
    public void A_read_only_open_uses_the_backup_but_repairs_nothing()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "payload"u8);
        test.Close();
        Flip(Primary(test), 10);
        var before = BackingView.Snapshot(test.BackingDir);

        using (var reader = test.Open(readOnly: true))
        {
            Assert.Equal("payload"u8.ToArray(), TestVolume.ReadAll(reader, "/f"));
        }

        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
    }

    [Fact]
    public void A_missing_primary_opens_from_the_backup_and_is_recreated()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "payload"u8);
        test.Close();
        File.Delete(Primary(test));

        Assert.Equal("payload"u8.ToArray(), test.ReadFile("/f"));
        Assert.True(File.Exists(Primary(test)));
        Assert.Equal(File.ReadAllBytes(Primary(test)), File.ReadAllBytes(Backup(test)));
    }

    [Fact]
    public void A_missing_backup_is_recreated()
    {
        using var test = TestVolume.Create();
        test.Close();
        File.Delete(Backup(test));
        _ = test.Volume;
        Assert.Equal(File.ReadAllBytes(Primary(test)), File.ReadAllBytes(Backup(test)));
    }

    [Fact]
    public void Both_copies_corrupt_gives_an_error_naming_both_files_and_changes_nothing()
    {
        using var test = TestVolume.Create();
        test.Close();
        Flip(Primary(test), 20);
        Flip(Backup(test), 40);
        var before = BackingView.Snapshot(test.BackingDir);

        var e = Assert.Throws<InvalidDataException>(() => test.Open());
        Assert.Contains(Primary(test) + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(Backup(test) + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains("checksum mismatch", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
    }

    [Fact]
    public void A_damaged_trailer_line_is_reported()
    {
        using var test = TestVolume.Create();
        test.Close();
        var text = File.ReadAllText(Primary(test));
        File.WriteAllText(Primary(test), text.Replace("#hmac-sha256:", "#hmac-sha256:zz", StringComparison.Ordinal));
        File.WriteAllText(Backup(test), "{}");

        var e = Assert.Throws<InvalidDataException>(() => test.Open());
        Assert.Contains("HMAC line is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains("no checksum trailer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_claiming_version_2_is_refused_naming_the_versions()
    {
        using var test = TestVolume.Create();
        var key = HeaderTool.HeaderKey(test.Volume);
        test.Close();
        // A genuine header from a newer efs: checksum and HMAC both valid.
        HeaderTool.Rewrite(Primary(test), body => body["version"] = 2, key);
        HeaderTool.Rewrite(Backup(test), body => body["version"] = 2, key);
        var before = BackingView.Snapshot(test.BackingDir);

        var e = Assert.Throws<UnsupportedFormatException>(() => test.Open());
        Assert.Equal(2, e.Version);
        Assert.Contains("version 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("(1)", e.Message, StringComparison.Ordinal);
        Assert.Contains("upgrade efs", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
    }

    [Fact]
    public void A_newer_primary_is_not_silently_replaced_by_an_older_backup()
    {
        // A newer efs that crashed between its two header writes: falling back to the v1 backup
        // would let this efs read (and rewrite) data in a format it does not know.
        using var test = TestVolume.Create();
        var key = HeaderTool.HeaderKey(test.Volume);
        test.Close();
        HeaderTool.Rewrite(Primary(test), body => body["version"] = 2, key);

        Assert.Throws<UnsupportedFormatException>(() => test.Open());
    }

    [Fact]
    public void A_body_field_altered_with_a_fixed_checksum_fails_authentication()
    {
        using var test = TestVolume.Create();
        test.WriteFile("/f", "payload"u8);
        test.Close();
        foreach (var copy in new[] { Primary(test), Backup(test) })
        {
            HeaderTool.Rewrite(copy, body => body["scopes"]![0]!["name"] = "attacker", hmacKey: null);
        }

        var before = BackingView.Snapshot(test.BackingDir);
        var e = Assert.Throws<InvalidDataException>(() => test.Open());
        Assert.Contains("authentication failed (the header was altered)", e.Message, StringComparison.Ordinal);
        Assert.Contains(Primary(test) + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(Backup(test) + ":", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
    }

    [Fact]
    public void An_altered_primary_is_ignored_in_favour_of_the_authentic_backup()
    {
        using var test = TestVolume.Create();
        test.Close();
        HeaderTool.Rewrite(Primary(test), body =>
        {
            body["scopes"]![0]!["name"] = "attacker";
            body["revision"] = 99;
        }, hmacKey: null);

        var volume = test.Volume;
        Assert.Equal("default", volume.Header.Scopes[0].Name);
        Assert.Equal("default", (string?)HeaderTool.Body(Primary(test))["scopes"]![0]!["name"]);
        Assert.Equal(File.ReadAllBytes(Primary(test)), File.ReadAllBytes(Backup(test)));
    }

    [Theory]
    [InlineData("sectorSize", 512)]
    [InlineData("volumeId", "00112233445566778899aabbccddeeff")]
    [InlineData("infrastructureEncryption", true)]
    public void Fields_bound_into_the_key_wrap_cannot_be_changed_even_with_a_valid_checksum(string field, object value)
    {
        // The attacker cannot compute the HMAC; these fields are also in the wrap's associated
        // data, so the default scope's DEK no longer unwraps at all.
        using var test = TestVolume.Create();
        test.Close();
        foreach (var copy in new[] { Primary(test), Backup(test) })
        {
            HeaderTool.Rewrite(copy, body =>
            {
                JsonNode node = value switch
                {
                    int i => JsonValue.Create(i),
                    bool b => JsonValue.Create(b),
                    _ => JsonValue.Create((string)value)!,
                };
                if (field == "infrastructureEncryption")
                {
                    body["scopes"]![0]![field] = node;
                }
                else
                {
                    body[field] = node;
                }
            }, hmacKey: null);
        }

        var before = BackingView.Snapshot(test.BackingDir);
        var e = Record.Exception(() => test.Open());
        Assert.True(e is KeyAccessException or InvalidDataException, $"unexpected {e?.GetType()}: {e?.Message}");
        Assert.Equal(before, BackingView.Snapshot(test.BackingDir));
    }

    [Fact]
    public void When_both_copies_are_valid_the_higher_revision_wins()
    {
        using var test = TestVolume.Create();
        test.Close();
        var revision1 = File.ReadAllBytes(Primary(test));
        var volume = test.Volume;
        Scopes.Add(volume, test.Keys, "second");
        test.Close();
        Assert.Equal(2, (long?)HeaderTool.Body(Backup(test))["revision"]);

        // Roll the primary back to the older, still authentic, revision.
        File.WriteAllBytes(Primary(test), revision1);
        volume = test.Volume;
        Assert.NotNull(volume.Header.FindScope("second"));
        Assert.Equal(3, volume.Header.Revision);
        Assert.Equal(File.ReadAllBytes(Primary(test)), File.ReadAllBytes(Backup(test)));
    }

    [Fact]
    public void Every_rewrite_increments_the_revision_in_both_copies()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.SaveHeader();
        volume.SaveHeader();
        Assert.Equal(3, (long?)HeaderTool.Body(Primary(test))["revision"]);
        Assert.Equal(File.ReadAllBytes(Primary(test)), File.ReadAllBytes(Backup(test)));
        Assert.False(File.Exists(Primary(test) + ".tmp"));
    }

    private static void Flip(string path, int offset)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x04;
        File.WriteAllBytes(path, bytes);
    }
}

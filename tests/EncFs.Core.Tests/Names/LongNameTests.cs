using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Names;

namespace EncFs.Core.Tests.Names;

public class LongNameTests
{
    [Fact]
    public void Names_longer_than_255_characters_are_hashed()
    {
        Assert.False(LongName.NeedsHashing(new string('A', 255)));
        Assert.True(LongName.NeedsHashing(new string('A', 256)));
        var encrypted = new string('B', 300);
        var hashed = LongName.Hashed(encrypted);
        Assert.Equal("~" + Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(encrypted))), hashed);
        Assert.Equal(44, hashed.Length);
        Assert.Equal(hashed + ".name", LongName.Sidecar(hashed));
        Assert.True(LongName.IsHashed(hashed));
        Assert.False(LongName.IsSidecar(hashed));
        Assert.True(LongName.IsSidecar(LongName.Sidecar(hashed)));
        Assert.False(LongName.IsHashed("AbC-_"));
        Assert.False(LongName.IsHashed(string.Empty));
    }

    [Fact]
    public void A_sidecar_is_trusted_only_when_it_hashes_to_its_entry()
    {
        var encrypted = new string('C', 300);
        var hashed = LongName.Hashed(encrypted);
        Assert.True(LongName.Matches(hashed, encrypted));
        Assert.False(LongName.Matches(hashed, encrypted + "D"));
        Assert.False(LongName.Matches(LongName.Hashed(new string('E', 300)), encrypted));
    }
}

using EncFs.Core.Format;

namespace EncFs.Core.Tests.Format;

public class Guid128Tests
{
    [Fact]
    public void Hex_and_bytes_round_trip_big_endian()
    {
        var id = Guid128.Parse("000102030405060708090a0b0c0d0e0f");
        Assert.Equal(Convert.FromHexString("000102030405060708090a0b0c0d0e0f"), id.ToBytes());
        Assert.Equal("000102030405060708090a0b0c0d0e0f", id.ToString());
        Assert.Equal(id, Guid128.Read(id.ToBytes()));
        Assert.Equal(id, Guid128.Parse("000102030405060708090A0B0C0D0E0F"));
    }

    [Fact]
    public void Random_ids_differ_and_bad_text_is_refused()
    {
        Assert.NotEqual(Guid128.NewRandom(), Guid128.NewRandom());
        Assert.Throws<FormatException>(() => Guid128.Parse("0011"));
        Assert.Throws<FormatException>(() => Guid128.Parse(new string('z', 32)));
    }
}

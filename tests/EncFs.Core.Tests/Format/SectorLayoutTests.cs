using EncFs.Core.Format;

namespace EncFs.Core.Tests.Format;

public class SectorLayoutTests
{
    [Theory]
    [InlineData(512, true)]
    [InlineData(4096, true)]
    [InlineData(65536, true)]
    [InlineData(256, false)]
    [InlineData(131072, false)]
    [InlineData(3000, false)]
    [InlineData(0, false)]
    [InlineData(-4096, false)]
    public void Valid_sector_sizes_are_powers_of_two_from_512_to_65536(int size, bool valid) =>
        Assert.Equal(valid, SectorLayout.IsValidSectorSize(size));

    [Theory]
    [InlineData(4096, false, 0, 96)]
    [InlineData(4096, false, 1, 96 + 4096)]
    [InlineData(4096, false, 4096, 96 + 4096)]
    [InlineData(4096, false, 4097, 96 + 8192)]
    [InlineData(4096, true, 1, 96 + 4124)]
    [InlineData(512, true, 1025, 96 + (3 * 540))]
    public void Backing_length_is_the_header_plus_whole_strides(int sectorSize, bool infrastructure, long size, long expected)
    {
        var layout = new SectorLayout(sectorSize, infrastructure);
        Assert.Equal(expected, layout.BackingLength(size));
        Assert.Equal(infrastructure ? sectorSize + 28 : sectorSize, layout.Stride);
        Assert.Equal(96 + (2L * layout.Stride), layout.SectorOffset(2));
    }
}

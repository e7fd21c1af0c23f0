using System.Buffers.Binary;
using EncFs.Core.Format;

namespace EncFs.Core.Tests.Format;

public class FileHeaderTests
{
    private static FileHeader Sample(bool infrastructure = true) => new()
    {
        FileId = Guid128.Parse("00112233445566778899aabbccddeeff"),
        ScopeId = Guid128.Parse("ffeeddccbbaa99887766554433221100"),
        Generation = 0x01020304,
        SectorShift = 12,
        Infrastructure = infrastructure,
    };

    [Fact]
    public void The_fixed_part_has_the_documented_layout()
    {
        var bytes = new byte[FileHeader.Size];
        bytes.AsSpan().Fill(0xAA);
        Sample().WriteFixedPart(bytes);
        Assert.Equal("EFSF"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, bytes[4]);
        Assert.Equal(1, bytes[5]);
        Assert.Equal(12, bytes[6]);
        Assert.Equal(0, bytes[7]);
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), bytes[8..24]);
        Assert.Equal(Convert.FromHexString("ffeeddccbbaa99887766554433221100"), bytes[24..40]);
        Assert.Equal(0x01020304, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(40)));
        Assert.All(bytes[44..], b => Assert.Equal(0, b)); // the rest is cleared for the size seal
        Assert.Equal(96, FileHeader.Size);
        Assert.Equal(48, FileHeader.AuthenticatedLength);
        Assert.Equal((48, 60, 68), (FileHeader.SizeNonceOffset, FileHeader.SizeCipherOffset, FileHeader.SizeTagOffset));
    }

    [Fact]
    public void Read_returns_what_was_written()
    {
        foreach (bool infrastructure in new[] { false, true })
        {
            var bytes = new byte[FileHeader.Size];
            Sample(infrastructure).WriteFixedPart(bytes);
            var read = FileHeader.ReadFixedPart(bytes);
            Assert.Equal(Sample(infrastructure).FileId, read.FileId);
            Assert.Equal(Sample().ScopeId, read.ScopeId);
            Assert.Equal(0x01020304, read.Generation);
            Assert.Equal(4096, read.SectorSize);
            Assert.Equal(infrastructure, read.Infrastructure);
        }
    }

    [Theory]
    [InlineData(0, (byte)'X', "bad magic")]
    [InlineData(4, 2, "file format version 2 is not supported")]
    [InlineData(5, 3, "unknown flags")]
    [InlineData(6, 8, "sector size")]
    [InlineData(6, 17, "sector size")]
    public void Damaged_fields_are_named(int offset, byte value, string message)
    {
        var bytes = new byte[FileHeader.Size];
        Sample().WriteFixedPart(bytes);
        bytes[offset] = value;
        var e = Assert.Throws<InvalidDataException>(() => FileHeader.ReadFixedPart(bytes));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_short_header_is_refused()
    {
        var bytes = new byte[FileHeader.Size];
        Sample().WriteFixedPart(bytes);
        var e = Assert.Throws<InvalidDataException>(() => FileHeader.ReadFixedPart(bytes.AsSpan(0, 95)));
        Assert.Contains("truncated (95 of 96 bytes)", e.Message, StringComparison.Ordinal);
    }
}

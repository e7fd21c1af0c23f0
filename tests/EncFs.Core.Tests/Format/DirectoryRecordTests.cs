using System.Buffers.Binary;
using System.Security.Cryptography;
using EncFs.Core.Format;

namespace EncFs.Core.Tests.Format;

public class DirectoryRecordTests
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    private static readonly DirectoryRecord Sample = new(
        Guid128.Parse("0123456789abcdef0123456789abcdef"),
        Guid128.Parse("fedcba9876543210fedcba9876543210"),
        7,
        DenyOverride: true);

    [Fact]
    public void Encodes_the_documented_76_bytes()
    {
        var bytes = Sample.Encode(_ => (byte[])Key.Clone());
        Assert.Equal(76, bytes.Length);
        Assert.Equal("EFSD"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, bytes[4]);
        Assert.Equal(1, bytes[5]);
        Assert.Equal([0, 0], bytes[6..8]);
        Assert.Equal(Convert.FromHexString("0123456789abcdef0123456789abcdef"), bytes[8..24]);
        Assert.Equal(Convert.FromHexString("fedcba9876543210fedcba9876543210"), bytes[24..40]);
        Assert.Equal(7, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(40)));
        Assert.Equal(HMACSHA256.HashData(Key, bytes.AsSpan(0, 44)), bytes[44..]);
        Assert.Equal(Sample, DirectoryRecord.Decode(bytes));
        Assert.True(DirectoryRecord.Verify(bytes, Key));
        Assert.Equal(0, (Sample with { DenyOverride = false }).Encode(_ => (byte[])Key.Clone())[5]);
    }

    [Fact]
    public void Every_bit_flip_is_caught_by_decode_or_verify()
    {
        var bytes = Sample.Encode(_ => (byte[])Key.Clone());
        for (int i = 0; i < bytes.Length * 8; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i / 8] ^= (byte)(1 << (i % 8));
            bool accepted;
            try
            {
                DirectoryRecord.Decode(copy);
                accepted = DirectoryRecord.Verify(copy, Key);
            }
            catch (InvalidDataException)
            {
                accepted = false;
            }

            Assert.False(accepted, $"bit {i} flipped was accepted");
        }
    }

    [Fact]
    public void Verify_fails_under_another_key_and_decode_refuses_bad_sizes()
    {
        var bytes = Sample.Encode(_ => (byte[])Key.Clone());
        Assert.False(DirectoryRecord.Verify(bytes, RandomNumberGenerator.GetBytes(32)));
        Assert.Throws<InvalidDataException>(() => DirectoryRecord.Decode(bytes.AsSpan(0, 75)));
        Assert.Throws<InvalidDataException>(() => DirectoryRecord.Decode([.. bytes, 0]));
    }
}

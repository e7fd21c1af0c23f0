using System.Security.Cryptography;
using EncFs.Core.Content;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Core.Tests.Content;

public sealed class FileCipherTests : IDisposable
{
    private readonly ScopeKeys _keys = new(Guid128.NewRandom(), 1, SecretKey.Generate(32), SecretKey.Generate(32));
    private readonly Guid128 _fileId = Guid128.NewRandom();

    public void Dispose() => _keys.Dispose();

    [Theory]
    [InlineData(512, false)]
    [InlineData(512, true)]
    [InlineData(4096, false)]
    [InlineData(4096, true)]
    public void Sectors_round_trip_one_by_one_and_in_batches(int sectorSize, bool infrastructure)
    {
        using var cipher = new FileCipher(_keys, _fileId, new SectorLayout(sectorSize, infrastructure));
        int stride = cipher.Layout.Stride;
        var plain = RandomNumberGenerator.GetBytes(5 * sectorSize);
        var stored = new byte[5 * stride];
        cipher.EncryptSectors(7, plain, stored);

        var back = new byte[sectorSize];
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(SectorStatus.Ok, cipher.DecryptSector(7 + i, stored.AsSpan(i * stride, stride), back));
            Assert.Equal(plain.AsSpan(i * sectorSize, sectorSize).ToArray(), back);

            // Encrypting a sector alone gives the same bytes, except the infrastructure layer's fresh nonce.
            var single = new byte[stride];
            cipher.EncryptSectors(7 + i, plain.AsSpan(i * sectorSize, sectorSize), single);
            Assert.Equal(!infrastructure, single.AsSpan().SequenceEqual(stored.AsSpan(i * stride, stride)));
        }
    }

    [Fact]
    public void Without_the_infrastructure_layer_a_sector_at_the_wrong_position_or_in_the_wrong_file_is_garbage_not_an_error()
    {
        using var cipher = new FileCipher(_keys, _fileId, new SectorLayout(4096, false));
        using var other = new FileCipher(_keys, Guid128.NewRandom(), new SectorLayout(4096, false));
        var plain = RandomNumberGenerator.GetBytes(4096);
        var stored = new byte[4096];
        cipher.EncryptSectors(3, plain, stored);
        var back = new byte[4096];
        Assert.Equal(SectorStatus.Ok, cipher.DecryptSector(4, stored, back));
        Assert.NotEqual(plain, back);
        Assert.Equal(SectorStatus.Ok, other.DecryptSector(3, stored, back));
        Assert.NotEqual(plain, back);
    }

    [Fact]
    public void With_the_infrastructure_layer_position_file_and_every_bit_are_authenticated()
    {
        using var cipher = new FileCipher(_keys, _fileId, new SectorLayout(512, true));
        using var other = new FileCipher(_keys, Guid128.NewRandom(), new SectorLayout(512, true));
        var plain = RandomNumberGenerator.GetBytes(512);
        var stored = new byte[540];
        cipher.EncryptSectors(3, plain, stored);
        var back = new byte[512];
        Assert.Equal(SectorStatus.Damaged, cipher.DecryptSector(4, stored, back));
        Assert.All(back, b => Assert.Equal(0, b)); // nothing unauthenticated is handed out
        Assert.Equal(SectorStatus.Damaged, other.DecryptSector(3, stored, back));
        for (int bit = 0; bit < stored.Length * 8; bit += 7)
        {
            var copy = (byte[])stored.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Equal(SectorStatus.Damaged, cipher.DecryptSector(3, copy, back));
        }

        Assert.Equal(SectorStatus.Ok, cipher.DecryptSector(3, stored, back));
        Assert.Equal(plain, back);
    }

    [Fact]
    public void An_all_zero_stored_sector_is_a_hole_without_the_layer_and_damage_with_it()
    {
        var back = new byte[4096];
        back.AsSpan().Fill(0xCC);
        using (var plain = new FileCipher(_keys, _fileId, new SectorLayout(4096, false)))
        {
            Assert.Equal(SectorStatus.Hole, plain.DecryptSector(0, new byte[4096], back));
            Assert.All(back, b => Assert.Equal(0, b));
        }

        using var sealedCipher = new FileCipher(_keys, _fileId, new SectorLayout(4096, true));
        Assert.Equal(SectorStatus.Damaged, sealedCipher.DecryptSector(0, new byte[4096 + 28], back));

        // A plaintext sector of zeros is stored as ciphertext, never as a hole.
        var stored = new byte[4096];
        using var again = new FileCipher(_keys, _fileId, new SectorLayout(4096, false));
        again.EncryptSectors(0, new byte[4096], stored);
        Assert.Contains(stored, b => b != 0);
    }

    [Fact]
    public void The_size_seal_round_trips_and_binds_the_header()
    {
        using var cipher = new FileCipher(_keys, _fileId, new SectorLayout(4096, false));
        var header = new byte[FileHeader.Size];
        new FileHeader { FileId = _fileId, ScopeId = _keys.ScopeId, Generation = 1, SectorShift = 12 }.WriteFixedPart(header);
        cipher.SealSize(header, 123_456_789_012);
        Assert.Equal(123_456_789_012, cipher.OpenSize(header));
        var nonce = header[48..60];
        cipher.SealSize(header, 123_456_789_012);
        Assert.NotEqual(nonce, header[48..60]); // a fresh nonce on every update
        Assert.Equal(123_456_789_012, SizeSeal.Open(_keys, _fileId, header));

        for (int i = 0; i < 84; i++)
        {
            var copy = (byte[])header.Clone();
            copy[i] ^= 0x10;
            Assert.Null(cipher.OpenSize(copy));
        }

        using var otherFile = new FileCipher(_keys, Guid128.NewRandom(), new SectorLayout(4096, false));
        Assert.Null(otherFile.OpenSize(header));
    }
}

using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;
using EncFs.Crypto;

namespace EncFs.Core.Tests.Format;

/// <summary>
/// Decrypts what the volume wrote following docs/FORMAT.md alone, with .NET's HKDF, AES-GCM,
/// ChaCha20-Poly1305, HMAC and a reference XTS (names use EncFs.Crypto's AES-SIV, which has its
/// own oracle tests).
/// </summary>
public class FormatConformanceTests
{
    [Theory]
    [InlineData(4096, false)]
    [InlineData(512, true)]
    public void A_file_decrypts_by_the_documented_recipe(int sectorSize, bool infrastructure)
    {
        using var test = TestVolume.Create(sectorSize, infrastructure);
        var content = new byte[(3 * sectorSize) + 321];
        new Random(9).NextBytes(content);
        content.AsSpan(sectorSize, sectorSize).Clear(); // a sector of zeros is not a hole
        test.WriteFile("/doc.bin", content);
        var volume = test.Volume;
        var dek = volume.GetScopeKeys("default").DataEncryptionKey.ToArray();
        var backing = File.ReadAllBytes(BackingView.FileOf(volume, "/doc.bin"));

        // Section 2: the wrapped key opens with the KEK and the documented associated data.
        var scope = volume.Header.Scopes[0];
        var aad = string.Join('\0', "EncFs/v1/wrap", volume.Header.VolumeId, scope.Id, "1", RawKeySource.KeyId, RawKeySource.KeyVersion, infrastructure ? "1" : "0", sectorSize.ToString(CultureInfo.InvariantCulture));
        using (var unwrapped = KeyWrap.Unwrap(test.Keys.DefaultKey, Convert.FromBase64String(scope.Keys[0].Wrapped), Encoding.UTF8.GetBytes(aad)))
        {
            Assert.Equal(infrastructure ? 64 : 32, unwrapped.Length);
            Assert.Equal(dek, unwrapped.Span[..32].ToArray());
        }

        // Section 4: header.
        Assert.Equal("EFSF"u8.ToArray(), backing[..4]);
        Assert.Equal(1, backing[4]);
        Assert.Equal(infrastructure ? 1 : 0, backing[5]);
        Assert.Equal(1 << backing[6], sectorSize);
        Assert.Equal(Convert.FromHexString(scope.Id), backing[24..40]);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(backing.AsSpan(40)));
        Assert.All(backing[84..96], b => Assert.Equal(0, b));
        var fileId = backing[8..24];
        var headerKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, 32, fileId, "EncFs/v1/header"u8.ToArray());
        var sizeBytes = new byte[8];
        using (var gcm = new AesGcm(headerKey, 16))
        {
            gcm.Decrypt(backing.AsSpan(48, 12), backing.AsSpan(60, 8), backing.AsSpan(68, 16), sizeBytes, backing.AsSpan(0, 48));
        }

        long size = BinaryPrimitives.ReadInt64LittleEndian(sizeBytes);
        Assert.Equal(content.Length, size);

        // Sectors.
        var xtsKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, 64, fileId, "EncFs/v1/xts"u8.ToArray());
        int stride = infrastructure ? sectorSize + 28 : sectorSize;
        long sectors = (size + sectorSize - 1) / sectorSize;
        Assert.Equal(96 + (sectors * stride), backing.Length);
        var plain = new List<byte>();
        for (long i = 0; i < sectors; i++)
        {
            var stored = backing.AsSpan((int)(96 + (i * stride)), stride);
            byte[] xts;
            if (infrastructure)
            {
                // The infrastructure key is derived from IK, which only the volume holds here.
                using var infraKey = volume.GetScopeKeys("default").FileInfrastructureKey(EncFs.Core.Format.Guid128.Read(fileId));
                var sealAad = new byte[24];
                fileId.CopyTo(sealAad, 0);
                BinaryPrimitives.WriteUInt64LittleEndian(sealAad.AsSpan(16), (ulong)i);
                xts = new byte[sectorSize];
                using var chacha = new ChaCha20Poly1305(infraKey.Span);
                chacha.Decrypt(stored[..12], stored.Slice(12, sectorSize), stored[(12 + sectorSize)..], xts, sealAad);
            }
            else
            {
                xts = stored.ToArray();
            }

            plain.AddRange(ReferenceXts.Decrypt(xtsKey, (ulong)i, xts));
        }

        Assert.Equal(content, plain.Take(content.Length).ToArray());
        Assert.All(plain.Skip(content.Length), b => Assert.Equal(0, b)); // the tail past the size is zero
    }

    [Fact]
    public void Directory_records_names_and_the_header_hmac_follow_the_documented_derivations()
    {
        using var test = TestVolume.Create();
        var volume = test.Volume;
        volume.CreateDirectory("/Documents", new CreateOptions(0x1ED));
        var dek = volume.GetScopeKeys("default").DataEncryptionKey.ToArray();

        // Section 5: the root's record.
        var record = File.ReadAllBytes(Path.Combine(test.TreeDir, ".efsdir"));
        var directoryId = record[8..24];
        var recordKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, 32, directoryId, "EncFs/v1/dir"u8.ToArray());
        Assert.Equal(HMACSHA256.HashData(recordKey, record.AsSpan(0, 44)), record[44..]);

        // Section 6.1: the entry name, AES-SIV with AD = [D] over the 16-byte-padded UTF-8 name.
        var backingName = BackingView.ListNames(test.TreeDir).Single(n => n != ".efsdir");
        var nameKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, 64, [], "EncFs/v1/names"u8.ToArray());
        var sealedName = Base64Url.DecodeFromChars(backingName);
        var padded = new byte[sealedName.Length - 16];
        using (var siv = new AesSiv(nameKey))
        {
            Assert.True(siv.TryDecrypt(sealedName, padded, directoryId));
        }

        Assert.Equal(16, padded.Length);
        Assert.Equal("Documents"u8.ToArray(), padded.AsSpan().TrimEnd((byte)0).ToArray());
        Assert.All(padded[9..], b => Assert.Equal(0, b));

        // Section 2: the header HMAC key.
        var headerKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dek, 32, [], "EncFs/v1/volume-header"u8.ToArray());
        Assert.Equal(HeaderTool.HeaderKey(volume), headerKey);
        var (body, _, hmac) = HeaderTool.Split(File.ReadAllBytes(Path.Combine(test.BackingDir, "efs.volume")));
        Assert.Equal(Convert.ToHexStringLower(HMACSHA256.HashData(headerKey, body)), hmac);
    }

    [Fact]
    public void The_reference_xts_matches_ieee_1619_vector_10()
    {
        // IEEE 1619-2007 XTS-AES-256 vector 10 (data unit 0xff), first 32 bytes of 512.
        var key = Convert.FromHexString(
            "2718281828459045235360287471352662497757247093699959574966967627" +
            "3141592653589793238462643383279502884197169399375105820974944592");
        var plain = new byte[512];
        for (int i = 0; i < plain.Length; i++)
        {
            plain[i] = (byte)i;
        }

        var cipher = ReferenceXts.Encrypt(key, 0xff, plain);
        Assert.Equal("1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b", Convert.ToHexStringLower(cipher.AsSpan(0, 32)));
        Assert.Equal(plain, ReferenceXts.Decrypt(key, 0xff, cipher));
    }
}

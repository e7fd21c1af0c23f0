using System.Text.Json.Nodes;
using EncFs.Crypto;
using EncFs.Crypto.Tests.Oracles;

namespace EncFs.Crypto.Tests.Aead;

/// <summary>
/// The sealed-sector format against Debian's python3-cryptography ChaCha20Poly1305: an
/// independent tool can open what we seal (nonce || ciphertext || tag), and we open what it seals.
/// </summary>
public class SectorSealerOracleTests
{
    private const string Script = """
        import os
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
        from cryptography.exceptions import InvalidTag
        out = []
        for c in json.load(sys.stdin):
            aead = ChaCha20Poly1305(h(c["key"]))
            ad = h(c["ad"])
            ours = h(c["sealed"])
            opened = aead.decrypt(ours[:12], ours[12:], ad)
            try:
                aead.decrypt(ours[:12], ours[12:], ad + b"x"); wrong_ad_refused = False
            except InvalidTag:
                wrong_ad_refused = True
            nonce = os.urandom(12)
            theirs = nonce + aead.encrypt(nonce, h(c["data"]), ad)
            out.append({"opened": x(opened), "wrongAdRefused": wrong_ad_refused, "theirs": x(theirs)})
        json.dump(out, sys.stdout)
        """;

    [Fact]
    public void Python_opens_what_we_seal_and_we_open_what_python_seals()
    {
        var rng = new Random(8439);
        var lengths = new List<int> { 0, 1, 15, 16, 17, 63, 64, 65, 511, 512, 4096, 4096, 4096, 65536 };
        for (int i = 0; i < 40; i++)
        {
            lengths.Add(rng.Next(1, 5000));
        }

        var input = new JsonArray();
        var keys = new List<byte[]>();
        var ads = new List<byte[]>();
        var datas = new List<byte[]>();
        foreach (int len in lengths)
        {
            byte[] key = new byte[32];
            byte[] ad = new byte[rng.Next(0, 40)];
            byte[] data = new byte[len];
            rng.NextBytes(key);
            rng.NextBytes(ad);
            rng.NextBytes(data);
            using var sealer = new SectorSealer(key);
            byte[] sealedSector = new byte[len + SectorSealer.Overhead];
            sealer.Seal(ad, data, sealedSector);
            keys.Add(key);
            ads.Add(ad);
            datas.Add(data);
            input.Add(new JsonObject
            {
                ["key"] = PythonOracle.Hex(key),
                ["ad"] = PythonOracle.Hex(ad),
                ["sealed"] = PythonOracle.Hex(sealedSector),
                ["data"] = PythonOracle.Hex(data),
            });
        }

        JsonArray results = PythonOracle.Run(Script, input).AsArray();
        Assert.Equal(lengths.Count, results.Count);
        for (int i = 0; i < lengths.Count; i++)
        {
            JsonNode r = results[i]!;
            string what = $"case {i} ({lengths[i]} bytes)";
            Assert.True(PythonOracle.Bytes(r["opened"]).AsSpan().SequenceEqual(datas[i]), what + ": python opened something else");
            Assert.True((bool)r["wrongAdRefused"]!, what + ": python accepted wrong AD");

            byte[] theirs = PythonOracle.Bytes(r["theirs"]);
            using var sealer = new SectorSealer(keys[i]);
            byte[] back = new byte[theirs.Length - SectorSealer.Overhead];
            Assert.True(sealer.TryOpen(ads[i], theirs, back), what + ": we could not open python's");
            Assert.Equal(datas[i], back);
            theirs[theirs.Length / 2] ^= 0x20;
            Assert.False(sealer.TryOpen(ads[i], theirs, back), what + ": we accepted python's sector tampered");
        }
    }
}

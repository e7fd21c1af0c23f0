using BenchmarkDotNet.Attributes;
using EncFs.Crypto;

namespace EncFs.Benchmarks;

/// <summary>256 consecutive 4 KiB sectors per call (one pooled context for the whole batch).</summary>
public class XtsBatchBenchmarks
{
    private XtsSectorCipher _cipher = null!;
    private byte[] _plaintext = [];
    private byte[] _ciphertext = [];
    private byte[] _output = [];

    [Params(XtsBench.OpenSsl, XtsBench.Ecb)]
    public string Engine { get; set; } = XtsBench.OpenSsl;

    [Params(4096)]
    public int SectorSize { get; set; }

    [Params(256)]
    public int Sectors { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cipher = XtsBench.Create(Engine);
        _plaintext = XtsBench.Data(SectorSize * Sectors);
        _ciphertext = new byte[_plaintext.Length];
        _output = new byte[_plaintext.Length];
        _cipher.EncryptSectors(1000, SectorSize, _plaintext, _ciphertext);
    }

    [GlobalCleanup]
    public void Cleanup() => _cipher.Dispose();

    [Benchmark]
    public void EncryptBatch() => _cipher.EncryptSectors(1000, SectorSize, _plaintext, _output);

    [Benchmark]
    public void DecryptBatch() => _cipher.DecryptSectors(1000, SectorSize, _ciphertext, _output);
}

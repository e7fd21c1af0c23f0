using BenchmarkDotNet.Attributes;
using EncFs.Crypto;

namespace EncFs.Benchmarks;

/// <summary>One data unit per call, single thread, 4 KiB and 64 KiB sectors.</summary>
public class XtsSectorBenchmarks
{
    private XtsSectorCipher _cipher = null!;
    private byte[] _plaintext = [];
    private byte[] _ciphertext = [];
    private byte[] _output = [];

    [Params(XtsBench.OpenSsl, XtsBench.Ecb)]
    public string Engine { get; set; } = XtsBench.OpenSsl;

    [Params(4096, 65536)]
    public int SectorSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cipher = XtsBench.Create(Engine);
        _plaintext = XtsBench.Data(SectorSize);
        _ciphertext = new byte[SectorSize];
        _output = new byte[SectorSize];
        _cipher.Encrypt(12345, _plaintext, _ciphertext);
    }

    [GlobalCleanup]
    public void Cleanup() => _cipher.Dispose();

    [Benchmark]
    public void Encrypt() => _cipher.Encrypt(12345, _plaintext, _output);

    [Benchmark]
    public void Decrypt() => _cipher.Decrypt(12345, _ciphertext, _output);
}

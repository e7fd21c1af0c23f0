using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Support;

/// <summary>A volume created in a fresh temporary backing directory, with a raw test key.</summary>
public sealed class TestVolume : IDisposable
{
    private EncryptedVolume? _volume;

    private TestVolume(int sectorSize, bool infrastructure)
    {
        Temp = new TempDir();
        SectorSize = sectorSize;
        Infrastructure = infrastructure;
        Keys = RawKeySource.NewRandom();
    }

    public TempDir Temp { get; }

    public string BackingDir => Temp.Combine("backing");

    public string TreeDir => Path.Combine(BackingDir, EncryptedVolume.TreeDirectory);

    public RawKeySource Keys { get; }

    public int SectorSize { get; }

    public bool Infrastructure { get; }

    /// <summary>The volume opened for writing (opened on first use).</summary>
    public EncryptedVolume Volume => _volume ??= Open();

    public static TestVolume Create(int sectorSize = 4096, bool infrastructure = false)
    {
        var test = new TestVolume(sectorSize, infrastructure);
        try
        {
            using var kek = test.Keys.CreateKek();
            EncryptedVolume.Create(
                test.BackingDir,
                new VolumeCreateOptions { SectorSize = sectorSize, InfrastructureEncryption = infrastructure },
                RawKeySource.Descriptor(),
                kek);
            return test;
        }
        catch
        {
            test.Dispose();
            throw;
        }
    }

    /// <summary>Opens another instance of the volume (the caller disposes it).</summary>
    public EncryptedVolume Open(bool readOnly = false) =>
        EncryptedVolume.Open(BackingDir, Keys, new VolumeOpenOptions { ReadOnly = readOnly });

    /// <summary>Closes <see cref="Volume"/> (releasing its lock and handles) and opens it again.</summary>
    public EncryptedVolume Reopen()
    {
        Close();
        return Volume;
    }

    public void Close()
    {
        _volume?.Dispose();
        _volume = null;
    }

    public void WriteFile(string path, ReadOnlySpan<byte> content)
    {
        using var handle = Volume.CreateFile(path, new CreateOptions(0x1A4), exclusive: false);
        handle.SetLength(0);
        handle.Write(0, content);
    }

    public byte[] ReadFile(string path) => ReadAll(Volume, path);

    public static byte[] ReadAll(EncryptedVolume volume, string path)
    {
        using var handle = volume.OpenFile(path, FileAccess.Read);
        var content = new byte[handle.Length];
        int n = handle.Read(0, content);
        Assert.Equal(content.Length, n);
        return content;
    }

    public void AssertBackingLength(string path, long size) =>
        BackingView.AssertLength(Volume, path, size, SectorSize, Infrastructure);

    public void Dispose()
    {
        Close();
        Temp.Dispose();
    }
}

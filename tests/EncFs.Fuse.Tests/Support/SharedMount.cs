namespace EncFs.Fuse.Tests.Support;

/// <summary>One mounted volume shared by the tests of a collection: each test works in its own directory.</summary>
public sealed class SharedMountFixture : IDisposable
{
    public SharedMountFixture() => Volume = MountedVolume.Create();

    public MountedVolume Volume { get; }

    public void Dispose() => Volume.Dispose();
}

/// <summary>The POSIX and real-program tests: one mount, tests run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class SharedMountCollection : ICollectionFixture<SharedMountFixture>
{
    public const string Name = "shared mount";
}

using System.Security.Cryptography;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Tests.Support;

namespace EncFs.Core.Tests.Keys;

public class ScopeKeyWrappingTests
{
    private static (VolumeHeader Volume, ScopeRecord Scope) NewHeader(bool infrastructure)
    {
        var scope = new ScopeRecord { Id = Guid128.NewRandom().ToString(), Name = "s", InfrastructureEncryption = infrastructure, KeySource = RawKeySource.Descriptor() };
        var volume = new VolumeHeader { VolumeId = Guid128.NewRandom().ToString(), SectorSize = 4096, DefaultScope = scope.Id, Scopes = [scope] };
        return (volume, scope);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_new_generation_unwraps_to_the_same_keys(bool infrastructure)
    {
        var (volume, scope) = NewHeader(infrastructure);
        var source = RawKeySource.NewRandom();
        using var kek = source.CreateKek();
        using var created = ScopeKeyWrapping.CreateGeneration(volume, scope, 1, kek);
        var record = Assert.Single(scope.Keys);
        Assert.Equal((1, RawKeySource.KeyId, RawKeySource.KeyVersion), (record.Generation, record.KekId, record.KekVersion));
        Assert.Equal(1, scope.CurrentGeneration);
        Assert.Equal(infrastructure, created.HasInfrastructureKey);

        using var unwrapped = ScopeKeyWrapping.Unwrap(volume, scope, record, kek);
        Assert.Equal(created.DataEncryptionKey.ToArray(), unwrapped.DataEncryptionKey.ToArray());
        Assert.Equal(32, unwrapped.DataEncryptionKey.Length);
        Assert.Equal(Guid128.Parse(scope.Id), unwrapped.ScopeId);
        using var a = created.FileDataKey(Guid128.Parse(scope.Id));
        using var b = unwrapped.FileDataKey(Guid128.Parse(scope.Id));
        Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
        if (infrastructure)
        {
            using var ia = created.FileInfrastructureKey(default);
            using var ib = unwrapped.FileInfrastructureKey(default);
            Assert.Equal(ia.Span.ToArray(), ib.Span.ToArray());
        }
        else
        {
            Assert.Throws<InvalidOperationException>(() => unwrapped.FileInfrastructureKey(default));
        }

        // Rotation: generation 2 is a different DEK; generation 1 still unwraps.
        using var second = ScopeKeyWrapping.CreateGeneration(volume, scope, 2, kek);
        Assert.Equal(2, scope.CurrentGeneration);
        Assert.NotEqual(created.DataEncryptionKey.ToArray(), second.DataEncryptionKey.ToArray());
        using var first = ScopeKeyWrapping.Unwrap(volume, scope, scope.FindKey(1)!, kek);
        Assert.Equal(created.DataEncryptionKey.ToArray(), first.DataEncryptionKey.ToArray());
    }

    [Fact]
    public void The_wrap_is_bound_to_its_context()
    {
        var (volume, scope) = NewHeader(infrastructure: false);
        var source = RawKeySource.NewRandom();
        using var kek = source.CreateKek();
        ScopeKeyWrapping.CreateGeneration(volume, scope, 1, kek).Dispose();
        var record = scope.Keys[0];

        void Refused(Action change, Action undo)
        {
            change();
            Assert.Throws<WrongKeyException>(() => ScopeKeyWrapping.Unwrap(volume, scope, record, kek).Dispose());
            undo();
        }

        var volumeId = volume.VolumeId;
        Refused(() => volume.VolumeId = Guid128.NewRandom().ToString(), () => volume.VolumeId = volumeId);
        Refused(() => volume.SectorSize = 512, () => volume.SectorSize = 4096);
        Refused(() => scope.InfrastructureEncryption = true, () => scope.InfrastructureEncryption = false);
        Refused(() => record.Generation = 2, () => record.Generation = 1);
        Refused(() => record.KekVersion = "2", () => record.KekVersion = RawKeySource.KeyVersion);
        using var wrong = source.WithWrongKey().CreateKek();
        Assert.Throws<WrongKeyException>(() => ScopeKeyWrapping.Unwrap(volume, scope, record, wrong).Dispose());
        ScopeKeyWrapping.Unwrap(volume, scope, record, kek).Dispose();
    }

    [Fact]
    public void A_damaged_wrapped_key_is_reported_as_damage()
    {
        var (volume, scope) = NewHeader(infrastructure: false);
        using var kek = RawKeySource.NewRandom().CreateKek();
        ScopeKeyWrapping.CreateGeneration(volume, scope, 1, kek).Dispose();
        scope.Keys[0].Wrapped = "***";
        var e = Assert.Throws<InvalidDataException>(() => ScopeKeyWrapping.Unwrap(volume, scope, scope.Keys[0], kek));
        Assert.Contains("damaged", e.Message, StringComparison.Ordinal);

        // A key of the wrong length (wrapped as if without the infrastructure key) is refused.
        var other = RandomNumberGenerator.GetBytes(32);
        scope.InfrastructureEncryption = true;
        scope.Keys[0].Wrapped = Convert.ToBase64String(kek.Wrap(other, WrapAssociatedData.For(volume, scope, 1, kek.KeyId, kek.KeyVersion)));
        Assert.Throws<InvalidDataException>(() => ScopeKeyWrapping.Unwrap(volume, scope, scope.Keys[0], kek));
    }
}

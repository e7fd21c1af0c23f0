using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Support;

/// <summary>
/// Adds a scope to an open volume's header. The volume has no public "add scope" operation, so
/// this uses the header object, <see cref="ScopeKeyWrapping"/> and the internal SaveHeader; the
/// new scope is unlocked once the volume is reopened.
/// </summary>
public static class Scopes
{
    public static ScopeRecord Add(EncryptedVolume volume, RawKeySource keys, string name, bool infrastructure = false)
    {
        var scope = new ScopeRecord
        {
            Id = Guid128.NewRandom().ToString(),
            Name = name,
            InfrastructureEncryption = infrastructure,
            KeySource = RawKeySource.Descriptor(),
        };
        volume.Header.Scopes.Add(scope);
        using (var kek = keys.CreateKek(name))
        {
            ScopeKeyWrapping.CreateGeneration(volume.Header, scope, 1, kek).Dispose();
        }

        volume.SaveHeader();
        return scope;
    }
}

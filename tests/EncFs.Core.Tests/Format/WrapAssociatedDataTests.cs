using System.Text;
using EncFs.Core.Format;

namespace EncFs.Core.Tests.Format;

public class WrapAssociatedDataTests
{
    [Fact]
    public void Is_the_documented_NUL_separated_string()
    {
        var volume = new VolumeHeader { VolumeId = "aa", SectorSize = 4096 };
        var scope = new ScopeRecord { Id = "bb", InfrastructureEncryption = true };
        var aad = WrapAssociatedData.For(volume, scope, 12, "kek", "v3");
        Assert.Equal("EncFs/v1/wrap\0aa\0bb\012\0kek\0v3\01\04096", Encoding.UTF8.GetString(aad));
        scope.InfrastructureEncryption = false;
        volume.SectorSize = 512;
        Assert.Equal("EncFs/v1/wrap\0aa\0bb\01\0kek\0v3\00\0512", Encoding.UTF8.GetString(WrapAssociatedData.For(volume, scope, 1, "kek", "v3")));
    }
}

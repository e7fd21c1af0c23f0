using System.Globalization;
using System.Text;

namespace EncFs.Core.Format;

/// <summary>The associated data bound to every wrapped key (docs/FORMAT.md section 2).</summary>
internal static class WrapAssociatedData
{
    public static byte[] For(VolumeHeader volume, ScopeRecord scope, int generation, string kekId, string kekVersion)
    {
        var text = string.Join(
            '\0',
            "EncFs/v1/wrap",
            volume.VolumeId,
            scope.Id,
            generation.ToString(CultureInfo.InvariantCulture),
            kekId,
            kekVersion,
            scope.InfrastructureEncryption ? "1" : "0",
            volume.SectorSize.ToString(CultureInfo.InvariantCulture));
        return Encoding.UTF8.GetBytes(text);
    }
}

using System.Text;
using EncFs.Keys.Pkcs11;

namespace EncFs.Keys.Tests.Pkcs11;

public sealed class Pkcs11UriTests
{
    [Fact]
    public void ParsesPathAndQueryAttributes()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=My%20Token;object=efs-kek;id=%01%a2?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin");
        Assert.Equal("My Token", uri.Token);
        Assert.Equal("efs-kek", uri.Object);
        Assert.Equal(new byte[] { 0x01, 0xa2 }, uri.Id);
        Assert.Equal("/usr/lib/softhsm/libsofthsm2.so", uri.ModulePath);
        Assert.Equal("file:/run/pin", uri.PinSource);
        Assert.True(uri.HasPin);
    }

    [Fact]
    public void TheStoredFormHasNoPin()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=t;object=k?pin-value=123456&module-path=/m.so&pin-source=file:///p");
        var stored = uri.ToStorableString();
        Assert.Equal("pkcs11:token=t;object=k?module-path=/m.so", stored);
        Assert.DoesNotContain("123456", stored, StringComparison.Ordinal);
        Assert.Equal(Encoding.ASCII.GetBytes("123456"), uri.PinValue);
        Assert.False(Pkcs11Uri.Parse(stored).HasPin);
        Assert.Equal(stored, uri.ToString());
    }

    [Fact]
    public void RoundTripsEncodedValues()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=a%3Bb%20c;object=x%2Fy?module-path=/opt/hsm%20lib/p11.so");
        Assert.Equal("a;b c", uri.Token);
        Assert.Equal("x/y", uri.Object);
        var again = Pkcs11Uri.Parse(uri.ToStorableString());
        Assert.Equal("a;b c", again.Token);
        Assert.Equal("x/y", again.Object);
        Assert.Equal("/opt/hsm lib/p11.so", again.ModulePath);
    }

    [Fact]
    public void TheIdIsWrittenAsPercentEncodedBytes()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=t;object=k;id=AB%00?module-path=/m.so");
        Assert.Equal(new byte[] { 0x41, 0x42, 0x00 }, uri.Id);
        Assert.Equal("pkcs11:token=t;object=k;id=%41%42%00?module-path=/m.so", uri.ToStorableString());
        Assert.Equal(uri.Id, Pkcs11Uri.Parse(uri.ToStorableString()).Id);
    }

    [Theory]
    [InlineData("token=t;object=k", "starts with")]
    [InlineData("pkcs11:token=t;bogus=1", "unknown path attribute 'bogus'")]
    [InlineData("pkcs11:token=t;token=u", "twice")]
    [InlineData("pkcs11:token=t;object", "not name=value")]
    [InlineData("pkcs11:token=t;id=%zz", "bad percent escape")]
    [InlineData("pkcs11:token=t;id=%0", "truncated percent escape")]
    [InlineData("pkcs11:token=t;type=private", "secret key")]
    [InlineData("pkcs11:token=t?pin-source=relative/pin", "pin-source")]
    [InlineData("pkcs11:token=t?module-name=softhsm2", "module-path")]
    [InlineData("pkcs11:token=t?what=1", "unknown query attribute")]
    [InlineData("pkcs11:token=a b", "percent-encoded")]
    public void RefusesBadUris(string text, string expected)
    {
        Assert.False(Pkcs11Uri.TryParse(text, out var uri, out var error));
        Assert.Null(uri);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("file:/run/pin", "/run/pin")]
    [InlineData("file:///run/pin", "/run/pin")]
    [InlineData("/run/pin", "/run/pin")]
    [InlineData("pin.txt", null)]
    [InlineData("https://example.org/pin", null)]
    public void PinSourceNamesAFile(string source, string? expected) =>
        Assert.Equal(expected, Pkcs11Uri.ResolvePinSourcePath(source));
}

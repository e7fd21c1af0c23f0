using EncFs.Core.Keys;
using EncFs.Keys.AzureKeyVault;

namespace EncFs.Keys.Tests.AzureKeyVault;

public sealed class KeyVaultParsingTests
{
    [Fact]
    public void ParsesKeyUrls()
    {
        var id = KeyVaultKeyId.Parse("https://myvault.vault.azure.net/keys/kek/0123abcd");
        Assert.Equal("kek", id.Name);
        Assert.Equal("0123abcd", id.Version);
        Assert.Equal("https://myvault.vault.azure.net/keys/kek", id.VersionlessUrl);

        var versionless = KeyVaultKeyId.Parse("https://myhsm.managedhsm.azure.net/keys/kek/");
        Assert.Null(versionless.Version);
        Assert.Equal("https://myhsm.managedhsm.azure.net/keys/kek", versionless.Url.ToString());
    }

    [Theory]
    [InlineData("http://myvault.vault.azure.net/keys/kek")]
    [InlineData("https://myvault.vault.azure.net/secrets/kek")]
    [InlineData("https://myvault.vault.azure.net/keys")]
    [InlineData("https://myvault.vault.azure.net/keys/a/b/c")]
    [InlineData("not a url")]
    public void RefusesOtherUrls(string url)
    {
        Assert.Throws<KeyAccessException>(() => KeyVaultKeyId.Parse(url));
    }

    [Fact]
    public void ParsesResourceAndScopeChallenges()
    {
        var resource = KeyVaultChallengePolicy.ParseChallenge(
            "Bearer authorization=\"https://login.microsoftonline.com/72f988bf-0000\", resource=\"https://vault.azure.net\"", "myvault.vault.azure.net", verifyResource: true);
        Assert.NotNull(resource);
        Assert.Equal(["https://vault.azure.net/.default"], resource.Value.Scopes);
        Assert.Equal("72f988bf-0000", resource.Value.TenantId);

        var scope = KeyVaultChallengePolicy.ParseChallenge(
            "Bearer authorization=\"https://login.microsoftonline.com/t1\", scope=\"https://managedhsm.azure.net/.default\"", "myhsm.managedhsm.azure.net", verifyResource: true);
        Assert.Equal(["https://managedhsm.azure.net/.default"], scope!.Value.Scopes);

        Assert.Null(KeyVaultChallengePolicy.ParseChallenge("Basic realm=\"x\"", "myvault.vault.azure.net", verifyResource: true));
        Assert.Throws<KeyAccessException>(() => KeyVaultChallengePolicy.ParseChallenge(
            "Bearer authorization=\"https://login.microsoftonline.com/t1\", resource=\"https://evil.example\"", "myvault.vault.azure.net", verifyResource: true));
    }

    [Theory]
    [InlineData("RSA", "RSA-OAEP-256")]
    [InlineData("RSA-HSM", "RSA-OAEP-256")]
    [InlineData("oct-HSM", "A256KW")]
    public void ChoosesTheWrapAlgorithm(string kty, string alg)
    {
        Assert.Equal(alg, KeyVaultKek.AlgorithmFor(kty));
    }

    [Fact]
    public void RefusesKeysThatCannotWrap()
    {
        Assert.Throws<KeyAccessException>(() => KeyVaultKek.AlgorithmFor("EC"));
    }
}

using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;
using EncFs.Keys.Tests.AzureKeyVault;

namespace EncFs.Cli.Tests.Commands;

/// <summary>
/// efs with --key-source azure-kv:... as a real process against a fake Key Vault over HTTPS:
/// the process trusts the fake's certificate through SSL_CERT_FILE (the OpenSSL trust store .NET
/// uses on Linux) and gets its token through DefaultAzureCredential's managed identity
/// credential from the fake's App Service style endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER).
/// Not the environment credential: its client-secret flow (MSAL) first asks
/// login.microsoftonline.com for instance discovery of any authority host it does not know,
/// and no environment variable turns that off.
/// </summary>
public sealed class AzureKeyVaultCliTests : IAsyncLifetime
{
    private readonly FakeKeyVault _vault = new() { ChallengeResource = "https://127.0.0.1" };
    private readonly TempDirectory _temp = new();
    private Dictionary<string, string?> _environment = [];

    public Task InitializeAsync()
    {
        var pem = _temp.Combine("fake-vault.pem");
        File.WriteAllText(pem, _vault.CertificatePem);
        _environment = new Dictionary<string, string?>
        {
            ["SSL_CERT_FILE"] = pem,
            ["SSL_CERT_DIR"] = _temp.Combine("no-certs"),
            ["IDENTITY_ENDPOINT"] = _vault.IdentityEndpoint,
            ["IDENTITY_HEADER"] = _vault.IdentityHeader,

            // Nothing else may answer for DefaultAzureCredential first.
            ["AZURE_CLIENT_ID"] = null,
            ["AZURE_CLIENT_SECRET"] = null,
            ["AZURE_TENANT_ID"] = null,
            ["AZURE_FEDERATED_TOKEN_FILE"] = null,
            ["AZURE_CLIENT_CERTIFICATE_PATH"] = null,
            ["AZURE_USERNAME"] = null,
            ["AZURE_TOKEN_CREDENTIALS"] = null,
            ["IMDS_ENDPOINT"] = null,
            ["MSI_ENDPOINT"] = null,
            ["IDENTITY_SERVER_THUMBPRINT"] = null,
        };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _vault.DisposeAsync();
        _temp.Dispose();
    }

    private ProcessResult Efs(params string[] arguments) => ProcessRunner.EfsWithEnvironment(_environment, null, arguments);

    [Fact]
    public void InitRecoverAndRevocationByDisablingTheKey()
    {
        _vault.AddVersion("kek");
        var backing = _temp.Combine("vol");
        var source = "azure-kv:" + _vault.KeyUrl("kek");

        var init = Efs("init", backing, "--key-source", source, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        Assert.Equal(source, JsonNode.Parse(init.Stdout)!["keySource"]!.GetValue<string>());
        Assert.Contains("\"azure-kv\"", File.ReadAllText(Path.Combine(backing, "efs.volume")), StringComparison.Ordinal);
        Assert.True(!_vault.TokenRequests.IsEmpty, string.Join("\n", _vault.Requests.Select(r => $"{r.Method} {r.Path}{r.Query}")));
        Assert.Equal("https://127.0.0.1", System.Web.HttpUtility.ParseQueryString(_vault.TokenRequests.First())["resource"]?.TrimEnd('/'));

        var recover = Efs("recover", backing);
        Assert.True(recover.ExitCode == 0, recover.ToString());
        Assert.Matches("^[0-9a-f]{64}$", recover.Stdout.Trim());

        _vault.SetEnabled("kek", false);
        var revoked = Efs("recover", backing);
        Assert.Equal(2, revoked.ExitCode);
        Assert.Contains("scope 'default'", revoked.Stderr, StringComparison.Ordinal);
        Assert.Contains("azure-kv:" + _vault.KeyUrl("kek"), revoked.Stderr, StringComparison.Ordinal);
        Assert.Contains("disabled", revoked.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ScopeCreateWithAKeyVaultKey()
    {
        _vault.AddVersion("scope-kek");
        var backing = _temp.Combine("vol");
        var key = _temp.Combine("key");
        File.WriteAllText(key, new string('5', 64));
        Assert.Equal(0, Efs("init", backing, "--key-file", key).ExitCode);

        var create = Efs("scope", "create", backing, "vault", "--key-file", key, "--key-source", "azure-kv:" + _vault.KeyUrl("scope-kek"), "--json");
        Assert.True(create.ExitCode == 0, create.ToString());
        var scope = JsonNode.Parse(create.Stdout)!;
        Assert.Equal("azure-kv", scope["keySource"]!.GetValue<string>());
        Assert.Equal(_vault.KeyUrl("scope-kek"), scope["kekId"]!.GetValue<string>());

        // The key rotated in the vault; key rotate without --key-source re-wraps with its new version.
        var version = _vault.AddVersion("scope-kek");
        var rotate = Efs("key", "rotate", backing, "--scope", "vault", "--key-file", key, "--json");
        Assert.True(rotate.ExitCode == 0, rotate.ToString());
        Assert.Equal(version, JsonNode.Parse(rotate.Stdout)!["kekVersion"]!.GetValue<string>());
        Assert.Equal(0, Efs("recover", backing, "--key-file", key).ExitCode);
    }

    /// <summary>
    /// A mounted volume asks the vault on its own: a new key version is adopted (re-wrap), an
    /// unreachable vault changes nothing, a disabled key locks only its scope at once, and an
    /// enabled one brings it back, all without a remount.
    /// </summary>
    [Fact]
    public void TheMountedVolumeFollowsTheVaultKeyVersionsRevocationAndOutages()
    {
        _vault.AddVersion("live-kek");
        var backing = _temp.Combine("vol");
        var mount = _temp.Combine("mnt");
        var key = _temp.Combine("key");
        Directory.CreateDirectory(mount);
        File.WriteAllText(key, new string('6', 64));
        Assert.Equal(0, Efs("init", backing, "--key-file", key).ExitCode);
        Assert.Equal(0, Efs("scope", "create", backing, "vault", "--key-file", key, "--key-source", "azure-kv:" + _vault.KeyUrl("live-kek")).ExitCode);
        var mounted = Efs("mount", backing, mount, "--key-file", key, "--log-file", _temp.Combine("daemon.log"));
        Assert.True(mounted.ExitCode == 0, mounted.ToString());
        try
        {
            var secret = Path.Combine(mount, "secret");
            File.WriteAllText(secret, string.Empty);
            Assert.Equal(0, ProcessRunner.Run("setfattr", ["-n", "user.efs.scope", "-v", "vault", secret]).ExitCode);
            File.WriteAllText(secret, "in the vault scope");
            File.WriteAllText(Path.Combine(mount, "plain"), "default scope");

            var version = _vault.AddVersion("live-kek");
            Assert.Equal("rewrapped", CheckOutcome(mount));
            var status = JsonNode.Parse(Efs("status", secret, "--json").Stdout)!;
            Assert.Equal(version, status["kekVersion"]!.GetValue<string>());

            _vault.FailNext(503, 50, "ServiceUnavailable", "try later");
            Assert.Equal("unreachable", CheckOutcome(mount));
            Assert.Equal("in the vault scope", File.ReadAllText(secret));
            _vault.ClearFailures();

            _vault.SetEnabled("live-kek", false);
            Assert.Equal("revoked", CheckOutcome(mount));
            Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => File.ReadAllText(secret)));
            Assert.Equal("default scope", File.ReadAllText(Path.Combine(mount, "plain")));

            _vault.SetEnabled("live-kek", true);
            Assert.Equal("restored", CheckOutcome(mount));
            Assert.Equal("in the vault scope", File.ReadAllText(secret));
        }
        finally
        {
            Efs("unmount", mount);
        }

        // The adopted version is the one in the header: the volume opens with it.
        Assert.Equal(0, Efs("recover", backing, "--key-file", key, "--scope", "vault").ExitCode);
    }

    /// <summary>A vault that does not answer locks its scope after --key-timeout; the rest is served at once, and the scope comes back with the vault.</summary>
    [Fact]
    public void AHangingVaultLocksOnlyItsScopeAfterTheTimeout()
    {
        _vault.AddVersion("slow-kek");
        var backing = _temp.Combine("vol");
        var mount = _temp.Combine("mnt");
        var key = _temp.Combine("key");
        var log = _temp.Combine("daemon.log");
        Directory.CreateDirectory(mount);
        File.WriteAllText(key, new string('7', 64));
        Assert.Equal(0, Efs("init", backing, "--key-file", key).ExitCode);
        Assert.Equal(0, Efs("scope", "create", backing, "vault", "--key-file", key, "--key-source", "azure-kv:" + _vault.KeyUrl("slow-kek")).ExitCode);

        _vault.Delay = TimeSpan.FromSeconds(20);
        var started = DateTime.UtcNow;
        var mounted = Efs("mount", backing, mount, "--key-file", key, "--key-timeout", "2", "--log-file", log);
        Assert.True(mounted.ExitCode == 0, mounted.ToString());
        try
        {
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "the mount waited for the hanging vault");
            File.WriteAllText(Path.Combine(mount, "served"), "the default scope is served");
            Assert.Equal("unreachable", CheckOutcome(mount));

            _vault.Delay = TimeSpan.Zero;
            Assert.Equal("restored", CheckOutcome(mount));
            var file = Path.Combine(mount, "secret");
            File.WriteAllText(file, string.Empty);
            Assert.Equal(0, ProcessRunner.Run("setfattr", ["-n", "user.efs.scope", "-v", "vault", file]).ExitCode);
            File.WriteAllText(file, "vault scope, usable again");
            Assert.Equal("vault scope, usable again", File.ReadAllText(file));
        }
        finally
        {
            _vault.Delay = TimeSpan.Zero;
            Efs("unmount", mount);
        }

        Assert.Contains("scope 'vault': key source azure-kv did not answer within 2 s", File.ReadAllText(log), StringComparison.Ordinal);
    }

    private string CheckOutcome(string mount)
    {
        var check = Efs("key", "check", mount, "--json");
        Assert.True(check.ExitCode == 0, check.ToString());
        return JsonNode.Parse(check.Stdout)!.AsArray().Single(s => s!["scope"]!.GetValue<string>() == "vault")!["outcome"]!.GetValue<string>();
    }

    [Fact]
    public void ErrorsNameTheSourceAndExit2()
    {
        var backing = _temp.Combine("vol");

        var missing = Efs("init", backing, "--key-source", "azure-kv:" + _vault.KeyUrl("nope"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("azure-kv:" + _vault.KeyUrl("nope"), missing.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(backing, "efs.volume")));

        _vault.AddVersion("kek");

        // Without the fake's certificate in SSL_CERT_FILE the process trusts neither endpoint.
        var otherPem = _temp.Combine("empty.pem");
        File.WriteAllText(otherPem, string.Empty);
        var trusted = _environment["SSL_CERT_FILE"];
        _environment["SSL_CERT_FILE"] = otherPem;
        var untrusted = Efs("init", backing, "--key-source", "azure-kv:" + _vault.KeyUrl("kek"));
        Assert.Equal(2, untrusted.ExitCode);
        Assert.Contains("azure-kv:" + _vault.KeyUrl("kek"), untrusted.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(backing, "efs.volume")));
        _environment["SSL_CERT_FILE"] = trusted;

        _vault.FailNext(403, 1, "Forbidden", "The user, group or application does not have keys get permission.");
        var forbidden = Efs("init", backing, "--key-source", "azure-kv:" + _vault.KeyUrl("kek"));
        Assert.Equal(2, forbidden.ExitCode);
        Assert.Contains("azure-kv:" + _vault.KeyUrl("kek"), forbidden.Stderr, StringComparison.Ordinal);
        Assert.Contains("403", forbidden.Stderr, StringComparison.Ordinal);

        _environment["IDENTITY_HEADER"] = "wrong";
        var noToken = Efs("init", backing, "--key-source", "azure-kv:" + _vault.KeyUrl("kek"));
        Assert.Equal(2, noToken.ExitCode);
        Assert.Contains("azure-kv:" + _vault.KeyUrl("kek"), noToken.Stderr, StringComparison.Ordinal);

        var badUrl = Efs("init", backing, "--key-source", "azure-kv:http://127.0.0.1/keys/kek");
        Assert.Equal(2, badUrl.ExitCode);
        Assert.Contains("https", badUrl.Stderr, StringComparison.Ordinal);
        var notAKey = Efs("init", backing, "--key-source", "azure-kv:https://127.0.0.1/secrets/kek");
        Assert.Equal(2, notAKey.ExitCode);
        Assert.Contains("/keys/<name>", notAKey.Stderr, StringComparison.Ordinal);
    }
}

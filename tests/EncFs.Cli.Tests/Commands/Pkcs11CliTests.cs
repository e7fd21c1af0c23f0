using System.Diagnostics;
using System.Text.Json.Nodes;
using EncFs.Cli.Tests.Support;

namespace EncFs.Cli.Tests.Commands;

/// <summary>efs with --key-source pkcs11:... against Debian's SoftHSM2 in a private token directory.</summary>
public sealed class Pkcs11CliTests
{
    private const string Module = "/usr/lib/softhsm/libsofthsm2.so";
    private const string Token = "efs-cli";

    [Fact]
    public void InitRecoverWrongPinAndRevocation()
    {
        using var temp = new TempDirectory();
        var conf = InitToken(temp);
        var backing = temp.Combine("vol");
        var pin = temp.Combine("pin");
        File.WriteAllText(pin, "1234\n");
        File.WriteAllText(temp.Combine("wrong-pin"), "9999\n");
        var uri = $"pkcs11:token={Token};object=efs-kek?module-path={Module}&pin-source=file:{pin}";

        var init = Efs(conf, null, "init", backing, "--key-source", uri, "--json");
        Assert.True(init.ExitCode == 0, init.ToString());
        var keySource = JsonNode.Parse(init.Stdout)!["keySource"]!.GetValue<string>();
        Assert.StartsWith($"pkcs11:token={Token};object=efs-kek;id=%", keySource, StringComparison.Ordinal);
        Assert.DoesNotContain("pin", keySource, StringComparison.Ordinal);
        var header = File.ReadAllText(Path.Combine(backing, "efs.volume"));
        Assert.Contains("\"pkcs11\"", header, StringComparison.Ordinal);
        Assert.DoesNotContain("pin-source", header, StringComparison.Ordinal);
        Assert.DoesNotContain(pin, header, StringComparison.Ordinal);

        var recover = Efs(conf, null, "recover", backing, "--pin-file", pin);
        Assert.True(recover.ExitCode == 0, recover.ToString());
        Assert.Matches("^[0-9a-f]{64}$", recover.Stdout.Trim());
        var fromStdin = Efs(conf, "1234\n", "recover", backing, "--pin-file", "-");
        Assert.True(fromStdin.ExitCode == 0, fromStdin.ToString());
        Assert.Equal(recover.Stdout, fromStdin.Stdout);

        var status = ProcessRunner.Efs("status", backing, "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Equal("pkcs11", JsonNode.Parse(status.Stdout)!["scopes"]![0]!["keySource"]!.GetValue<string>());

        var before = Snapshot(backing);
        var noPin = Efs(conf, null, "recover", backing);
        Assert.Equal(2, noPin.ExitCode);
        Assert.Contains("scope 'default'", noPin.Stderr, StringComparison.Ordinal);
        Assert.Contains("--pin-file", noPin.Stderr, StringComparison.Ordinal);

        var wrong = Efs(conf, null, "recover", backing, "--pin-file", temp.Combine("wrong-pin"));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains($"wrong PIN for PKCS#11 token '{Token}'", wrong.Stderr, StringComparison.Ordinal);
        Assert.Contains("scope 'default'", wrong.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(backing));

        // Revocation: the key object is deleted from the token by another tool.
        Run(conf, "pkcs11-tool", "--module", Module, "--token-label", Token, "--login", "--pin", "1234", "--delete-object", "--type", "secrkey", "--label", "efs-kek");
        var revoked = Efs(conf, null, "recover", backing, "--pin-file", pin);
        Assert.Equal(2, revoked.ExitCode);
        Assert.Contains("scope 'default'", revoked.Stderr, StringComparison.Ordinal);
        Assert.Contains("'efs-kek'", revoked.Stderr, StringComparison.Ordinal);
        Assert.Contains("deleted or revoked", revoked.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(backing));
    }

    [Fact]
    public void HsmScopeAndKekRotationToANewHsmKey()
    {
        using var temp = new TempDirectory();
        var conf = InitToken(temp);
        var backing = temp.Combine("vol");
        var key = temp.Combine("key");
        var pin = temp.Combine("pin");
        File.WriteAllText(key, new string('7', 64));
        File.WriteAllText(pin, "1234");
        Assert.Equal(0, Efs(conf, null, "init", backing, "--key-file", key).ExitCode);

        var create = Efs(conf, null, "scope", "create", backing, "hsm", "--key-file", key, "--key-source", $"pkcs11:token={Token};object=scope-kek?module-path={Module}", "--pin-file", pin);
        Assert.True(create.ExitCode == 0, create.ToString());
        var dek = Efs(conf, null, "recover", backing, "--scope", "hsm", "--key-file", key, "--pin-file", pin);
        Assert.True(dek.ExitCode == 0, dek.ToString());

        var rotate = Efs(conf, null, "key", "rotate", backing, "--scope", "hsm", "--key-file", key, "--pin-file", pin, "--key-source", $"pkcs11:token={Token};object=scope-kek-2?module-path={Module}");
        Assert.True(rotate.ExitCode == 0, rotate.ToString());

        // The old key object no longer opens the scope's wrapped key: delete it and recover still works.
        Run(conf, "pkcs11-tool", "--module", Module, "--token-label", Token, "--login", "--pin", "1234", "--delete-object", "--type", "secrkey", "--label", "scope-kek");
        var after = Efs(conf, null, "recover", backing, "--scope", "hsm", "--key-file", key, "--pin-file", pin);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal(dek.Stdout, after.Stdout);
    }

    /// <summary>The key object deleted from the token while mounted: its scope is refused at the next key check, the rest is served.</summary>
    [Fact]
    public void DeletingTheHsmKeyLocksItsScopeOnTheLiveMount()
    {
        using var temp = new TempDirectory();
        var conf = InitToken(temp);
        var backing = temp.Combine("vol");
        var mount = temp.Combine("mnt");
        var key = temp.Combine("key");
        var pin = temp.Combine("pin");
        Directory.CreateDirectory(mount);
        File.WriteAllText(key, new string('8', 64));
        File.WriteAllText(pin, "1234");
        Assert.Equal(0, Efs(conf, null, "init", backing, "--key-file", key).ExitCode);
        var create = Efs(conf, null, "scope", "create", backing, "hsm", "--key-file", key, "--key-source", $"pkcs11:token={Token};object=live-kek?module-path={Module}", "--pin-file", pin);
        Assert.True(create.ExitCode == 0, create.ToString());
        var mounted = Efs(conf, null, "mount", backing, mount, "--key-file", key, "--pin-file", pin);
        Assert.True(mounted.ExitCode == 0, mounted.ToString());
        try
        {
            var secret = Path.Combine(mount, "secret");
            File.WriteAllText(secret, string.Empty);
            Assert.Equal(0, ProcessRunner.Run("setfattr", ["-n", "user.efs.scope", "-v", "hsm", secret]).ExitCode);
            File.WriteAllText(secret, "kept in the HSM scope");
            File.WriteAllText(Path.Combine(mount, "plain"), "default scope");
            Assert.Equal("ok", Outcome(Efs(conf, null, "key", "check", mount, "--json")));

            Run(conf, "pkcs11-tool", "--module", Module, "--token-label", Token, "--login", "--pin", "1234", "--delete-object", "--type", "secrkey", "--label", "live-kek");
            Assert.Equal("revoked", Outcome(Efs(conf, null, "key", "check", mount, "--json")));
            Assert.IsType<UnauthorizedAccessException>(Record.Exception(() => File.ReadAllText(secret)));
            Assert.Equal("default scope", File.ReadAllText(Path.Combine(mount, "plain")));
        }
        finally
        {
            Efs(conf, null, "unmount", mount);
        }
    }

    private static string Outcome(ProcessResult check)
    {
        Assert.True(check.ExitCode == 0, check.ToString());
        return System.Text.Json.Nodes.JsonNode.Parse(check.Stdout)!.AsArray().Single(s => s!["scope"]!.GetValue<string>() == "hsm")!["outcome"]!.GetValue<string>();
    }

    [Fact]
    public void BadPkcs11InputExitsTwoAndCreatesNothing()
    {
        using var temp = new TempDirectory();
        var conf = InitToken(temp);
        var pin = temp.Combine("pin");
        File.WriteAllText(pin, "1234");

        var badUri = Efs(conf, null, "init", temp.Combine("a"), "--key-source", "pkcs11:token=x;bogus=1", "--pin-file", pin);
        Assert.Equal(2, badUri.ExitCode);
        Assert.Contains("bad PKCS#11 URI", badUri.Stderr, StringComparison.Ordinal);

        var unknown = Efs(conf, null, "init", temp.Combine("a"), "--key-source", "hsm", "--pin-file", pin);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("pkcs11:<uri>", unknown.Stderr, StringComparison.Ordinal);

        var noModule = Efs(conf, null, "init", temp.Combine("a"), "--key-source", $"pkcs11:token={Token};object=k", "--pin-file", pin);
        Assert.Equal(2, noModule.ExitCode);
        Assert.Contains("module-path", noModule.Stderr, StringComparison.Ordinal);

        var noPin = Efs(conf, null, "init", temp.Combine("a"), "--key-source", $"pkcs11:token={Token};object=k?module-path={Module}");
        Assert.Equal(2, noPin.ExitCode);
        Assert.Contains("--pin-file", noPin.Stderr, StringComparison.Ordinal);

        var noToken = Efs(conf, null, "init", temp.Combine("a"), "--key-source", $"pkcs11:token=absent;object=k?module-path={Module}", "--pin-file", pin);
        Assert.Equal(2, noToken.ExitCode);
        Assert.Contains("token 'absent' not found", noToken.Stderr, StringComparison.Ordinal);

        File.WriteAllText(temp.Combine("wrong"), "0000");
        var wrongPin = Efs(conf, null, "init", temp.Combine("a"), "--key-source", $"pkcs11:token={Token};object=k?module-path={Module}", "--pin-file", temp.Combine("wrong"));
        Assert.Equal(2, wrongPin.ExitCode);
        Assert.Contains("wrong PIN", wrongPin.Stderr, StringComparison.Ordinal);

        var badModule = Efs(conf, null, "init", temp.Combine("a"), "--key-source", $"pkcs11:token={Token};object=k?module-path=/nonexistent/p11.so", "--pin-file", pin);
        Assert.Equal(2, badModule.ExitCode);
        Assert.Contains("/nonexistent/p11.so", badModule.Stderr, StringComparison.Ordinal);

        // The volume cannot be created after the key was generated: the key goes again.
        Directory.CreateDirectory(temp.Combine("full"));
        File.WriteAllText(temp.Combine("full", "keep"), "keep me");
        var notEmpty = Efs(conf, null, "init", temp.Combine("full"), "--key-source", $"pkcs11:token={Token};object=k?module-path={Module}", "--pin-file", pin);
        Assert.Equal(2, notEmpty.ExitCode);
        Assert.Contains("not empty", notEmpty.Stderr, StringComparison.Ordinal);

        var help = Efs(conf, null, "init", "--help");
        Assert.Contains("pkcs11:", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--pin-file", help.Stdout, StringComparison.Ordinal);

        Assert.False(Directory.Exists(temp.Combine("a")));
        var listing = Run(conf, "pkcs11-tool", "--module", Module, "--token-label", Token, "--login", "--pin", "1234", "--list-objects", "--type", "secrkey");
        Assert.DoesNotContain("label:", listing, StringComparison.Ordinal);
    }

    /// <summary>A private SoftHSM2 configuration and token; fails (never skips) without SoftHSM2.</summary>
    private static string InitToken(TempDirectory temp)
    {
        Assert.True(File.Exists(Module), $"{Module} is missing: install Debian's softhsm2 (scripts/install-deps.sh does)");
        var tokens = temp.Combine("tokens");
        Directory.CreateDirectory(tokens);
        var conf = temp.Combine("softhsm2.conf");
        File.WriteAllText(conf, $"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n");
        Run(conf, "softhsm2-util", "--init-token", "--free", "--label", Token, "--pin", "1234", "--so-pin", "5678");
        return conf;
    }

    private static ProcessResult Efs(string conf, string? stdin, params string[] arguments) =>
        ProcessRunner.Run("env", [$"SOFTHSM2_CONF={conf}", "dotnet", ProcessRunner.EfsDll, .. arguments], stdin);

    private static string Run(string conf, string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["SOFTHSM2_CONF"] = conf;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} failed: {stderr}");
        return stdout.Result;
    }

    private static string Snapshot(string dir) =>
        string.Join('\n', Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{f}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}:{File.GetLastWriteTimeUtc(f).Ticks}"));
}

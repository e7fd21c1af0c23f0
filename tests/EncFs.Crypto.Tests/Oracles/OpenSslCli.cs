namespace EncFs.Crypto.Tests.Oracles;

/// <summary>The OpenSSL command-line tool as an independent reference (Debian package <c>openssl</c>).</summary>
internal static class OpenSslCli
{
    public const string Program = "/usr/bin/openssl";

    /// <summary>Runs <c>openssl args...</c> and returns stdout; fails the test if it is missing or errors.</summary>
    public static string Run(params string[] args)
    {
        if (!File.Exists(Program))
        {
            Assert.Fail($"{Program} not found: install Debian's openssl package (apt-get install openssl); it is the independent oracle for these tests.");
        }

        ProcessRunner.Result r = ProcessRunner.Run(Program, args, timeout: TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0)
        {
            Assert.Fail($"openssl {string.Join(' ', args)} failed (exit {r.ExitCode}):\n{r.StdErr}");
        }

        return r.StdOut;
    }

    /// <summary>
    /// <c>openssl kdf -keylen N -kdfopt digest:SHA256 -kdfopt hexkey:.. [-kdfopt hexsalt:..] [-kdfopt info:..|hexinfo:..] HKDF</c>.
    /// A null <paramref name="salt"/> omits the salt option altogether (salt empty).
    /// </summary>
    public static byte[] Hkdf(ReadOnlySpan<byte> ikm, byte[]? salt, string? textInfo, byte[]? binaryInfo, int length)
    {
        var args = new List<string> { "kdf", "-keylen", length.ToString(System.Globalization.CultureInfo.InvariantCulture), "-kdfopt", "digest:SHA256", "-kdfopt", "hexkey:" + Convert.ToHexString(ikm) };
        if (salt is not null)
        {
            args.Add("-kdfopt");
            args.Add("hexsalt:" + Convert.ToHexString(salt));
        }

        if (textInfo is not null)
        {
            args.Add("-kdfopt");
            args.Add("info:" + textInfo);
        }
        else if (binaryInfo is not null)
        {
            args.Add("-kdfopt");
            args.Add("hexinfo:" + Convert.ToHexString(binaryInfo));
        }

        args.Add("HKDF");

        // Output is "AB:CD:...": strip the colons and whitespace.
        string hex = Run([.. args]).Replace(":", "", StringComparison.Ordinal).Trim();
        return Convert.FromHexString(hex);
    }
}

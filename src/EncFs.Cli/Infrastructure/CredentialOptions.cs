using System.CommandLine;
using System.Text;
using EncFs.Crypto;
using EncFs.Keys;

namespace EncFs.Cli.Infrastructure;

/// <summary>--passphrase-file and --key-file: how a script hands efs its credentials.</summary>
internal sealed class CredentialOptions
{
    public Option<string?> PassphraseFile { get; } = new("--passphrase-file")
    {
        Description = "Read the passphrase from this file ('-' for standard input); a final newline is ignored",
    };

    public Option<string[]> KeyFile { get; } = new("--key-file")
    {
        Description = "Read a provided 256-bit key from this file ('-' for standard input): 64 hex digits or 32 raw bytes. Repeat it when scopes have different provided keys: each scope takes the one whose SHA-256 it stores",
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    public Option<string?> Keystore { get; } = new("--keystore")
    {
        Description = "Directory of the platform key source's keys (default: $EFS_KEYSTORE, else /var/lib/efs/keystore)",
    };

    public Option<string?> PinFile { get; } = new("--pin-file")
    {
        Description = "Read the PKCS#11 token's user PIN from this file ('-' for standard input); a final newline is ignored. Never stored in the volume",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(PinFile);
        command.Options.Add(PassphraseFile);
        command.Options.Add(KeyFile);
        command.Options.Add(Keystore);
    }

    public SecretKey? ReadPassphrase(ParseResult result, bool interactiveConfirm = false)
    {
        var path = result.GetValue(PassphraseFile);
        if (path is not null)
        {
            return SecretFiles.Line(ReadSecretFile(path, "passphrase"), "passphrase", path);
        }

        return Console.IsInputRedirected ? null : Prompt(interactiveConfirm);
    }

    /// <summary>The one provided key of a command that makes something with it (init, a new scope).</summary>
    public SecretKey? ReadKey(ParseResult result) => result.GetValue(KeyFile) switch
    {
        null or [] => null,
        [var path] => SecretFiles.ProvidedKey(ReadSecretFile(path, "key"), path),
        _ => throw new UsageException("give one --key-file here: the key the new volume or scope is made with"),
    };

    /// <summary>Every --key-file given, read once each ('-' at most once: standard input has one content).</summary>
    public List<SecretKey> ReadKeys(ParseResult result)
    {
        var paths = result.GetValue(KeyFile) ?? [];
        if (paths.Count(p => p == "-") > 1)
        {
            throw new UsageException("--key-file - (standard input) can be given once");
        }

        return [.. paths.Select(path => SecretFiles.ProvidedKey(ReadSecretFile(path, "key"), path))];
    }

    /// <summary>
    /// The credentials given. A passphrase is asked for only when one was given or stdin is a
    /// terminal; scopes of other sources need none.
    /// </summary>
    public CredentialKeySource KeySource(ParseResult result)
    {
        var keys = ReadKeys(result);
        return new(() => ReadPassphrase(result), keys.FirstOrDefault(), result.GetValue(Keystore) is { } keystore ? Path.GetFullPath(keystore) : null)
        {
            Pkcs11Pin = () => ReadPin(result),
            OtherProvidedKeys = [.. keys.Skip(1)],
        };
    }

    /// <summary>The PKCS#11 PIN of --pin-file, or null when none was given.</summary>
    public SecretKey? ReadPin(ParseResult result)
    {
        var path = result.GetValue(PinFile);
        if (path is null)
        {
            return null;
        }

        var bytes = EncFs.Keys.Pkcs11.Pkcs11KeySource.TrimNewline(ReadSecretFile(path, "PIN"));
        try
        {
            return bytes.Length == 0
                ? throw new UsageException($"the PIN file '{path}' is empty")
                : SecretKey.Copy(bytes);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }

    private static byte[] ReadSecretFile(string path, string what)
    {
        try
        {
            if (path == "-")
            {
                using var stdin = Console.OpenStandardInput();
                using var buffer = new MemoryStream();
                stdin.CopyTo(buffer);
                return buffer.ToArray();
            }

            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the {what} file '{path}': {e.Message}", e);
        }
    }

    private static SecretKey Prompt(bool confirm)
    {
        var first = ReadHidden("Passphrase: ");
        if (confirm && first != ReadHidden("Repeat passphrase: "))
        {
            throw new UsageException("the passphrases do not match; nothing was changed");
        }

        if (first.Length == 0)
        {
            throw new UsageException("empty passphrase");
        }

        return SecretKey.Copy(Encoding.UTF8.GetBytes(first));
    }

    private static string ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }

            if (key.Key == ConsoleKey.Backspace && text.Length > 0)
            {
                text.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
    }
}

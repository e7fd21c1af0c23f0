using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EncFs.Core.Backing;
using EncFs.Crypto;

namespace EncFs.Core.Names;

/// <summary>
/// Encrypts entry names, symlink targets and extended attributes with AES-SIV under a scope's
/// name key (docs/FORMAT.md section 6). Thread-safe.
/// </summary>
public sealed class NameCipher : IDisposable
{
    public const int MaxNameBytes = 255;
    public const int MaxTargetBytes = 3000;
    public const int NonceSize = 16;

    /// <summary>Names, targets and attribute names are NUL-padded to this, so their lengths leak only coarsely.</summary>
    public const int PaddingBlock = 16;
    private static readonly byte[] SymlinkLabel = "EncFs/v1/symlink"u8.ToArray();
    private static readonly byte[] XattrNameLabel = "EncFs/v1/xattr-name"u8.ToArray();
    private static readonly byte[] XattrValueLabel = "EncFs/v1/xattr-value"u8.ToArray();
    private readonly AesSiv _siv;
    private readonly Lock _lock = new();

    public NameCipher(ReadOnlySpan<byte> key)
    {
        _siv = new AesSiv(key);
    }

    /// <summary>The backing name of <paramref name="name"/> in the directory with id <paramref name="directoryId"/>.</summary>
    public string EncryptName(ReadOnlySpan<byte> directoryId, string name)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
        {
            throw new FsException(Errno.ENAMETOOLONG, $"name longer than {MaxNameBytes} bytes: '{name[..32]}...'");
        }

        var plain = Padded(name);
        var sealedName = new byte[AesSiv.Overhead + plain.Length];
        lock (_lock)
        {
            _siv.Encrypt(plain, sealedName, directoryId);
        }

        return Base64Url.EncodeToString(sealedName);
    }

    /// <summary>The plaintext name, or null when <paramref name="encrypted"/> does not authenticate.</summary>
    public string? TryDecryptName(ReadOnlySpan<byte> directoryId, string encrypted)
    {
        if (!TryDecode(encrypted, out var sealedName) || sealedName.Length <= AesSiv.Overhead)
        {
            return null;
        }

        var plain = new byte[sealedName.Length - AesSiv.Overhead];
        bool ok;
        lock (_lock)
        {
            ok = _siv.TryDecrypt(sealedName, plain, directoryId);
        }

        return ok ? Unpadded(plain) : null;
    }

    /// <summary>Nonce || SIV(target): the sealed part of a symlink target.</summary>
    public byte[] SealTarget(string target)
    {
        if (Encoding.UTF8.GetByteCount(target) > MaxTargetBytes)
        {
            throw new FsException(Errno.ENAMETOOLONG, $"symlink target longer than {MaxTargetBytes} bytes");
        }

        return SealWithNonce(Padded(target), SymlinkLabel, default);
    }

    public string? TryOpenTarget(ReadOnlySpan<byte> sealedTarget)
    {
        var plain = OpenWithNonce(sealedTarget, SymlinkLabel, default);
        return plain is null ? null : Unpadded(plain);
    }

    /// <summary>Deterministic, so the backing attribute can be found by name.</summary>
    public string EncryptXattrName(string name)
    {
        var plain = Padded(name);
        var sealedName = new byte[AesSiv.Overhead + plain.Length];
        lock (_lock)
        {
            _siv.Encrypt(plain, sealedName, XattrNameLabel);
        }

        return Base64Url.EncodeToString(sealedName);
    }

    public string? TryDecryptXattrName(string encrypted)
    {
        if (!TryDecode(encrypted, out var sealedName) || sealedName.Length < AesSiv.Overhead)
        {
            return null;
        }

        var plain = new byte[sealedName.Length - AesSiv.Overhead];
        bool ok;
        lock (_lock)
        {
            ok = _siv.TryDecrypt(sealedName, plain, XattrNameLabel);
        }

        return ok ? Unpadded(plain) : null;
    }

    public byte[] SealXattrValue(string encryptedName, ReadOnlySpan<byte> value) =>
        SealWithNonce(value, XattrValueLabel, Encoding.ASCII.GetBytes(encryptedName));

    public byte[]? TryOpenXattrValue(string encryptedName, ReadOnlySpan<byte> sealedValue) =>
        OpenWithNonce(sealedValue, XattrValueLabel, Encoding.ASCII.GetBytes(encryptedName));

    public void Dispose() => _siv.Dispose();

    private byte[] SealWithNonce(ReadOnlySpan<byte> plain, byte[] label, ReadOnlySpan<byte> binding)
    {
        var output = new byte[NonceSize + AesSiv.Overhead + plain.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, NonceSize));
        lock (_lock)
        {
            if (binding.IsEmpty)
            {
                _siv.Encrypt(plain, output.AsSpan(NonceSize), label, output.AsSpan(0, NonceSize));
            }
            else
            {
                _siv.Encrypt(plain, output.AsSpan(NonceSize), label, output.AsSpan(0, NonceSize), binding);
            }
        }

        return output;
    }

    private byte[]? OpenWithNonce(ReadOnlySpan<byte> sealedValue, byte[] label, ReadOnlySpan<byte> binding)
    {
        if (sealedValue.Length < NonceSize + AesSiv.Overhead)
        {
            return null;
        }

        var nonce = sealedValue[..NonceSize];
        var plain = new byte[sealedValue.Length - NonceSize - AesSiv.Overhead];
        bool ok;
        lock (_lock)
        {
            ok = binding.IsEmpty
                ? _siv.TryDecrypt(sealedValue[NonceSize..], plain, label, nonce)
                : _siv.TryDecrypt(sealedValue[NonceSize..], plain, label, nonce, binding);
        }

        return ok ? plain : null;
    }

    /// <summary>UTF-8, NUL-padded to a multiple of <see cref="PaddingBlock"/> (names never contain NUL).</summary>
    private static byte[] Padded(string text)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        var padded = new byte[Math.Max(PaddingBlock, (length + PaddingBlock - 1) / PaddingBlock * PaddingBlock)];
        Encoding.UTF8.GetBytes(text, padded);
        return padded;
    }

    private static string Unpadded(ReadOnlySpan<byte> plain) => Encoding.UTF8.GetString(plain.TrimEnd((byte)0));

    private static bool TryDecode(string text, out byte[] bytes)
    {
        bytes = [];
        if (!Base64Url.IsValid(text))
        {
            return false;
        }

        bytes = Base64Url.DecodeFromChars(text);
        return true;
    }
}

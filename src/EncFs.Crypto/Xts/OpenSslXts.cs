using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EncFs.Crypto.Xts;

/// <summary>
/// AES-256-XTS through OpenSSL 3's EVP interface (libcrypto.so.3), which uses AES-NI/VAES and
/// does XTS, including ciphertext stealing, in one call per data unit.
/// </summary>
internal sealed unsafe class OpenSslXts : XtsEngine
{
    private static readonly Lazy<SafeEvpCipherHandle?> s_cipher = new(FetchCipher);

    // Pinned so that the GC never leaves a stray copy of the key behind when it compacts.
    private readonly byte[] _key = GC.AllocateArray<byte>(XtsSectorCipher.KeySize, pinned: true);
    private readonly SafeEvpCipherHandle _cipher;
    private readonly ContextPool<ContextPair> _pool;

    public OpenSslXts(ReadOnlySpan<byte> key)
    {
        _cipher = s_cipher.Value
            ?? throw new PlatformNotSupportedException($"{OpenSslNative.Library} with AES-256-XTS is not available.");
        key.CopyTo(_key);
        _pool = new ContextPool<ContextPair>(CreateContext, ContextPool<ContextPair>.DefaultCapacity);
        try
        {
            // Build one context now so that a key OpenSSL rejects fails here, not on first use.
            _pool.Return(CreateContext());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>True when libcrypto.so.3 loads and offers AES-256-XTS (Linux only).</summary>
    public static bool IsSupported => s_cipher.Value is not null;

    public override string Name => "OpenSSL";

    public override void Transform(
        bool encrypt, ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> input, Span<byte> output)
    {
        ContextPair pair = _pool.Rent();
        bool healthy = false;
        try
        {
            // The rented pair is ours alone until returned: nothing can free it meanwhile, so the
            // raw pointer is used without the SafeHandle reference counting on every call.
            SafeEvpCipherCtxHandle handle = encrypt ? pair.Encrypt : pair.Decrypt;
            TransformUnits(encrypt, handle.DangerousGetHandle(), firstDataUnit, sectorSize, input, output);
            healthy = true;
        }
        finally
        {
            // A context that failed half-way is not trusted again.
            if (healthy)
            {
                _pool.Return(pair);
            }
            else
            {
                pair.Dispose();
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pool?.Dispose();
        }

        CryptographicOperations.ZeroMemory(_key);
    }

    private static void TransformUnits(
        bool encrypt, IntPtr context, ulong firstDataUnit, int sectorSize, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Span<byte> tweak = stackalloc byte[16];
        tweak.Clear();
        fixed (byte* source = input)
        fixed (byte* destination = output)
        fixed (byte* iv = tweak)
        {
            ulong unit = firstDataUnit;
            for (int offset = 0; offset < input.Length; offset += sectorSize, unit++)
            {
                // IEEE 1619: the tweak is the data unit number as a 128-bit little-endian integer.
                BinaryPrimitives.WriteUInt64LittleEndian(tweak, unit);
                TransformUnit(encrypt, context, iv, source + offset, destination + offset, sectorSize);
            }
        }
    }

    private static void TransformUnit(
        bool encrypt, IntPtr context, byte* iv, byte* source, byte* destination, int length)
    {
        int written = 0;
        if (encrypt)
        {
            // Only the IV changes per data unit; the key schedules stay in the context.
            if (OpenSslNative.EncryptInitIv(context, IntPtr.Zero, IntPtr.Zero, null, iv) != 1)
            {
                throw OpenSslNative.Failure("EVP_EncryptInit_ex (tweak)");
            }

            if (OpenSslNative.EVP_EncryptUpdate(context, destination, &written, source, length) != 1 || written != length)
            {
                throw OpenSslNative.Failure("EVP_EncryptUpdate");
            }
        }
        else
        {
            if (OpenSslNative.DecryptInitIv(context, IntPtr.Zero, IntPtr.Zero, null, iv) != 1)
            {
                throw OpenSslNative.Failure("EVP_DecryptInit_ex (tweak)");
            }

            if (OpenSslNative.EVP_DecryptUpdate(context, destination, &written, source, length) != 1 || written != length)
            {
                throw OpenSslNative.Failure("EVP_DecryptUpdate");
            }
        }
    }

    private static SafeEvpCipherHandle? FetchCipher()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            SafeEvpCipherHandle cipher = OpenSslNative.EVP_CIPHER_fetch(IntPtr.Zero, "AES-256-XTS", null);
            if (!cipher.IsInvalid)
            {
                return cipher;
            }

            cipher.Dispose();
            _ = OpenSslNative.Failure("EVP_CIPHER_fetch"); // clears the error queue
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    private ContextPair CreateContext()
    {
        var pair = new ContextPair();
        try
        {
            fixed (byte* key = _key)
            {
                if (OpenSslNative.EncryptInitKey(pair.Encrypt, _cipher, IntPtr.Zero, key, null) != 1)
                {
                    throw OpenSslNative.Failure("EVP_EncryptInit_ex (key)");
                }

                if (OpenSslNative.DecryptInitKey(pair.Decrypt, _cipher, IntPtr.Zero, key, null) != 1)
                {
                    throw OpenSslNative.Failure("EVP_DecryptInit_ex (key)");
                }
            }

            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>One keyed context per direction: AES decryption uses a different key schedule.</summary>
    private sealed class ContextPair : IDisposable
    {
        public ContextPair()
        {
            Encrypt = New();
            Decrypt = New();
        }

        public SafeEvpCipherCtxHandle Encrypt { get; }

        public SafeEvpCipherCtxHandle Decrypt { get; }

        public void Dispose()
        {
            Encrypt.Dispose();
            Decrypt.Dispose();
        }

        private static SafeEvpCipherCtxHandle New()
        {
            SafeEvpCipherCtxHandle context = OpenSslNative.EVP_CIPHER_CTX_new();
            if (context.IsInvalid)
            {
                context.Dispose();
                throw OpenSslNative.Failure("EVP_CIPHER_CTX_new");
            }

            return context;
        }
    }
}

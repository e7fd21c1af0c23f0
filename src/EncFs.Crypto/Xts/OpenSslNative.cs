using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace EncFs.Crypto.Xts;

/// <summary>The few libcrypto (OpenSSL 3) EVP entry points the XTS engine needs.</summary>
internal static unsafe partial class OpenSslNative
{
    internal const string Library = "libcrypto.so.3";

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial SafeEvpCipherHandle EVP_CIPHER_fetch(IntPtr libraryContext, string algorithm, string? properties);

    [LibraryImport(Library)]
    internal static partial void EVP_CIPHER_free(IntPtr cipher);

    [LibraryImport(Library)]
    internal static partial SafeEvpCipherCtxHandle EVP_CIPHER_CTX_new();

    [LibraryImport(Library)]
    internal static partial void EVP_CIPHER_CTX_free(IntPtr context);

    // Full initialisation: cipher and key (the expensive key schedule), done once per context.
    [LibraryImport(Library, EntryPoint = "EVP_EncryptInit_ex")]
    internal static partial int EncryptInitKey(SafeEvpCipherCtxHandle context, SafeEvpCipherHandle cipher, IntPtr engine, byte* key, byte* iv);

    [LibraryImport(Library, EntryPoint = "EVP_DecryptInit_ex")]
    internal static partial int DecryptInitKey(SafeEvpCipherCtxHandle context, SafeEvpCipherHandle cipher, IntPtr engine, byte* key, byte* iv);

    // Hot path, once per data unit: raw context pointers, valid while the caller has the
    // context rented from the pool (see OpenSslXts.Transform).

    // Re-initialisation with only a new IV (the tweak); cipher and key stay as set.
    [LibraryImport(Library, EntryPoint = "EVP_EncryptInit_ex")]
    internal static partial int EncryptInitIv(IntPtr context, IntPtr cipher, IntPtr engine, byte* key, byte* iv);

    [LibraryImport(Library, EntryPoint = "EVP_DecryptInit_ex")]
    internal static partial int DecryptInitIv(IntPtr context, IntPtr cipher, IntPtr engine, byte* key, byte* iv);

    [LibraryImport(Library)]
    internal static partial int EVP_EncryptUpdate(IntPtr context, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Library)]
    internal static partial int EVP_DecryptUpdate(IntPtr context, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Library)]
    private static partial nuint ERR_get_error();

    [LibraryImport(Library)]
    private static partial void ERR_error_string_n(nuint error, byte* buffer, nuint length);

    [LibraryImport(Library)]
    private static partial void ERR_clear_error();

    /// <summary>Builds an exception from the thread's OpenSSL error queue, and empties the queue.</summary>
    internal static CryptographicException Failure(string operation)
    {
        nuint error = ERR_get_error();
        string detail = "no OpenSSL error recorded";
        if (error != 0)
        {
            byte* buffer = stackalloc byte[256];
            ERR_error_string_n(error, buffer, 256);
            detail = Marshal.PtrToStringUTF8((IntPtr)buffer) ?? detail;
        }

        // Leave no stale entries for the next OpenSSL user on this thread (including .NET's own).
        ERR_clear_error();
        return new CryptographicException($"AES-256-XTS: {operation} failed: {detail}");
    }
}

/// <summary>An EVP_CIPHER from EVP_CIPHER_fetch.</summary>
internal sealed class SafeEvpCipherHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeEvpCipherHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        OpenSslNative.EVP_CIPHER_free(handle);
        return true;
    }
}

/// <summary>An EVP_CIPHER_CTX; freeing it also cleanses the key schedule inside.</summary>
internal sealed class SafeEvpCipherCtxHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeEvpCipherCtxHandle()
        : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        OpenSslNative.EVP_CIPHER_CTX_free(handle);
        return true;
    }
}

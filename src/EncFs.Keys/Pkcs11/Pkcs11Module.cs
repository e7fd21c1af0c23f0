using System.Reflection;
using System.Runtime.InteropServices;
using EncFs.Core.Keys;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace EncFs.Keys.Pkcs11;

/// <summary>
/// A PKCS#11 module loaded once per process and path (C_Initialize may run only once per
/// process), shared by reference count: the last <see cref="Dispose"/> finalizes and unloads it.
/// </summary>
internal sealed class Pkcs11Module : IDisposable
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Entry> Loaded = new(StringComparer.Ordinal);

    private readonly Entry _entry;
    private bool _disposed;

    static Pkcs11Module()
    {
        // Pkcs11Interop 5 calls dlopen through "libdl", which glibc 2.34+ systems (Debian 12) ship
        // only as libdl.so.2 (libdl.so comes with libc6-dev): point it at the runtime's names.
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(IPkcs11Library).Assembly, ResolveLibdl);
        }
        catch (InvalidOperationException)
        {
            // Another resolver is already set for the assembly; it is in charge.
        }
    }

    private Pkcs11Module(Entry entry)
    {
        _entry = entry;
    }

    public string Path => _entry.Path;

    public IPkcs11Library Library => _entry.Library;

    public Pkcs11InteropFactories Factories { get; } = new();

    /// <summary>Loads (or shares) the module; <see cref="KeyAccessException"/> when it cannot be loaded.</summary>
    public static Pkcs11Module Acquire(string modulePath)
    {
        if (string.IsNullOrWhiteSpace(modulePath))
        {
            throw new KeyAccessException("the PKCS#11 URI names no module: add ?module-path=/path/to/module.so (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)");
        }

        if (!System.IO.Path.IsPathRooted(modulePath))
        {
            throw new KeyAccessException($"PKCS#11 module-path '{modulePath}' is not an absolute path");
        }

        lock (Gate)
        {
            if (!Loaded.TryGetValue(modulePath, out var entry))
            {
                if (!File.Exists(modulePath))
                {
                    throw new KeyAccessException($"PKCS#11 module '{modulePath}' does not exist (is the HSM client library installed?)");
                }

                IPkcs11Library library;
                try
                {
                    var factories = new Pkcs11InteropFactories();
                    library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, modulePath, AppType.MultiThreaded);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new KeyAccessException($"PKCS#11 module '{modulePath}' cannot be loaded: {e.Message}", e);
                }

                entry = new Entry(modulePath, library);
                Loaded.Add(modulePath, entry);
            }

            entry.References++;
            return new Pkcs11Module(entry);
        }
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (--_entry.References == 0)
            {
                Loaded.Remove(_entry.Path);
                _entry.Library.Dispose();
            }
        }
    }

    private static IntPtr ResolveLibdl(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != "libdl" || !OperatingSystem.IsLinux())
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in new[] { "libdl.so.2", "libc.so.6", "libdl.so" })
        {
            if (NativeLibrary.TryLoad(candidate, out var handle))
            {
                return handle;
            }
        }

        return IntPtr.Zero;
    }

    private sealed class Entry(string path, IPkcs11Library library)
    {
        public string Path { get; } = path;

        public IPkcs11Library Library { get; } = library;

        public int References { get; set; }
    }
}

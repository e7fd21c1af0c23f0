using System.Runtime.InteropServices;
using System.Text;

namespace EncFs.Core.Tests.Support;

/// <summary>Reads and writes backing extended attributes straight through libc, independent of the code under test.</summary>
public static partial class NativeXattr
{
    public static unsafe List<string> List(string path)
    {
        nint size = llistxattr(path, null, 0);
        if (size < 0)
        {
            throw new IOException($"llistxattr '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var buffer = new byte[Math.Max(1, size)];
        fixed (byte* p = buffer)
        {
            size = llistxattr(path, p, buffer.Length);
        }

        if (size < 0)
        {
            throw new IOException($"llistxattr '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return [.. Encoding.UTF8.GetString(buffer, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries)];
    }

    public static unsafe byte[] Get(string path, string name)
    {
        nint size = lgetxattr(path, name, null, 0);
        if (size < 0)
        {
            throw new IOException($"lgetxattr '{path}' '{name}' failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var value = new byte[size];
        fixed (byte* p = value)
        {
            size = lgetxattr(path, name, p, value.Length);
        }

        if (size < 0)
        {
            throw new IOException($"lgetxattr '{path}' '{name}' failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return value[..(int)size];
    }

    public static unsafe void Set(string path, string name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            if (lsetxattr(path, name, p, value.Length, 0) != 0)
            {
                throw new IOException($"lsetxattr '{path}' '{name}' failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint llistxattr(string path, byte* list, nint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint lgetxattr(string path, string name, byte* value, nint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lsetxattr(string path, string name, byte* value, nint size, int flags);
}

using System.Runtime.InteropServices;
using System.Text;
using EncFs.Core.Backing;

namespace EncFs.Fuse.Session;

/// <summary>Reads a request body: fixed structures, then NUL-terminated names, then data.</summary>
internal ref struct RequestReader
{
    private ReadOnlySpan<byte> _rest;

    public RequestReader(ReadOnlySpan<byte> body) => _rest = body;

    public ReadOnlySpan<byte> Rest => _rest;

    public T Read<T>()
        where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        if (_rest.Length < size)
        {
            // Older kernels send shorter structures: pad with zeros.
            Span<byte> padded = stackalloc byte[size];
            _rest.CopyTo(padded);
            _rest = default;
            return MemoryMarshal.Read<T>(padded);
        }

        var value = MemoryMarshal.Read<T>(_rest);
        _rest = _rest[size..];
        return value;
    }

    public string ReadName()
    {
        int end = _rest.IndexOf((byte)0);
        if (end < 0)
        {
            throw new FsException(Errno.EINVAL, "malformed request: name not terminated");
        }

        var name = Encoding.UTF8.GetString(_rest[..end]);
        _rest = _rest[(end + 1)..];
        return name;
    }

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count > _rest.Length)
        {
            throw new FsException(Errno.EINVAL, "malformed request: data shorter than announced");
        }

        var bytes = _rest[..count];
        _rest = _rest[count..];
        return bytes;
    }
}

/// <summary>Writes a reply payload into the thread's reply buffer.</summary>
internal ref struct ReplyWriter
{
    private readonly Span<byte> _buffer;

    public ReplyWriter(Span<byte> buffer) => _buffer = buffer;

    public int Length { get; private set; }

    public readonly int Remaining => _buffer.Length - Length;

    public readonly Span<byte> Free => _buffer[Length..];

    public void Write<T>(in T value)
        where T : unmanaged
    {
        MemoryMarshal.Write(_buffer[Length..], in value);
        Length += Marshal.SizeOf<T>();
    }

    public void Advance(int count) => Length += count;

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[Length..]);
        Length += bytes.Length;
    }

    public void Rewind(int length) => Length = length;
}

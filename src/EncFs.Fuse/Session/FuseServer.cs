using System.Runtime.InteropServices;
using EncFs.Fuse.Protocol;
using Microsoft.Extensions.Logging;

namespace EncFs.Fuse.Session;

/// <summary>
/// Serves requests on several OS threads, each blocking in read(2) on the same /dev/fuse fd with
/// its own pinned request and reply buffers: no allocation per request on the I/O path.
/// </summary>
internal sealed class FuseServer
{
    private const int RequestBufferSize = FuseOperations.MaxWrite + (64 * 1024);
    private const int ReplyBufferSize = FuseOperations.MaxWrite + (64 * 1024);
    private readonly FuseChannel _channel;
    private readonly FuseOperations _operations;
    private readonly ILogger _logger;
    private readonly long[] _served = new long[64];

    public FuseServer(FuseChannel channel, FuseOperations operations, ILogger logger)
    {
        _channel = channel;
        _operations = operations;
        _logger = logger;
    }

    public static int DefaultThreadCount => Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    /// <summary>Serves until the filesystem is unmounted.</summary>
    public void Run(int threadCount)
    {
        var threads = new Thread[threadCount];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(Loop, maxStackSize: 1 << 20) { IsBackground = true, Name = $"fuse-{i}" };
            threads[i].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        var counts = string.Join(' ', Enumerable.Range(0, _served.Length)
            .Where(i => _served[i] > 0)
            .Select(i => $"{(Opcode)i}={_served[i]}"));
        _logger.LogInformation("Requests served: {Counts}", counts);
    }

    private void Loop()
    {
        var request = GC.AllocateArray<byte>(RequestBufferSize, pinned: true);
        var reply = GC.AllocateArray<byte>(ReplyBufferSize, pinned: true);
        try
        {
            while (true)
            {
                int length = _channel.Read(request);
                if (length == 0)
                {
                    return;
                }

                if (length < InHeader.Size)
                {
                    _logger.LogError("Short FUSE request ({Length} bytes) ignored", length);
                    continue;
                }

                var header = MemoryMarshal.Read<InHeader>(request);
                Interlocked.Increment(ref _served[(int)header.Opcode & 63]);
                var writer = new ReplyWriter(reply);
                int error = _operations.Dispatch(header, request.AsSpan(InHeader.Size, length - InHeader.Size), ref writer);
                if (error != FuseOperations.NoReply)
                {
                    _channel.Reply(header.Unique, error, reply.AsSpan(0, writer.Length));
                }
            }
        }
        catch (Exception e)
        {
            _logger.LogCritical(e, "FUSE request loop stopped");
            throw;
        }
    }
}

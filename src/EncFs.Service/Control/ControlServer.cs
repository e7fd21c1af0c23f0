using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace EncFs.Service.Control;

/// <summary>
/// The control socket: a Unix-domain socket through which `efs` commands reach the process
/// that has volumes mounted. One JSON request line in, one JSON answer line out. Only root and
/// the serving process's own user are answered (the socket is 0600 and peers are checked with
/// SO_PEERCRED as well).
/// </summary>
public sealed class ControlServer : IDisposable
{
    private const int MaxRequestBytes = 64 * 1024;
    private readonly Socket _listener;
    private readonly Func<JsonObject, JsonObject> _handle;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private ControlServer(string path, Socket listener, Func<JsonObject, JsonObject> handle, ILogger logger)
    {
        Path = path;
        _listener = listener;
        _handle = handle;
        _logger = logger;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>
    /// Binds <paramref name="path"/>. A socket there that still answers belongs to another efs:
    /// refused, nothing changed. A stale one (its process died) is replaced. Anything else at the
    /// path is refused.
    /// </summary>
    public static ControlServer Start(string path, Func<JsonObject, JsonObject> handle, ILogger logger)
    {
        var full = System.IO.Path.GetFullPath(path);
        PrepareDirectory(System.IO.Path.GetDirectoryName(full)!);
        ClearStale(full);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(full));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(full, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            listener.Listen(16);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new ControlSocketException($"cannot listen on the control socket '{full}': {e.Message}", e);
        }

        logger.LogInformation("Control socket listening at {Socket}", full);
        return new ControlServer(full, listener, handle, logger);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _accepting.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>The socket's directory is made owner-only; an existing one must not be anyone else's to swap the socket in.</summary>
    private static void PrepareDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Checked after creating too: someone may have made it in between. A symlink is refused.
        if (new DirectoryInfo(directory).LinkTarget is not null)
        {
            throw new ControlSocketException($"the control socket's directory '{directory}' is a symbolic link; nothing was changed");
        }

        var status = Core.Backing.BackingFs.Stat(directory);
        bool sticky = (status.Mode & 0x200) != 0;
        if ((status.Uid != PeerCredentials.OwnUid && status.Uid != 0) || ((status.Mode & 0x12) != 0 && !sticky))
        {
            throw new ControlSocketException($"the control socket's directory '{directory}' belongs to uid {status.Uid} or is writable by others; nothing was changed");
        }
    }

    private static void ClearStale(string path)
    {
        if (!Core.Backing.BackingFs.TryStat(path, out var status))
        {
            return;
        }

        if (status.Type != Core.Backing.FileStatus.Socket)
        {
            throw new ControlSocketException($"the control socket path '{path}' is taken by something that is not a socket; nothing was changed");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            throw new ControlSocketException($"the control socket '{path}' is in use by another running efs; stop it or choose another path");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // left by a process that died
        }
    }


    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => Serve(client));
        }
    }

    private void Serve(Socket client)
    {
        using (client)
        {
            JsonObject answer;
            var peer = PeerCredentials.Of(client);
            if (peer.Uid != 0 && peer.Uid != PeerCredentials.OwnUid)
            {
                _logger.LogWarning("Control socket: refused a request from uid {Uid} (pid {Pid})", peer.Uid, peer.Pid);
                answer = ControlAnswer.Error($"permission denied: uid {peer.Uid} may not control this efs", ControlAnswer.PermissionDenied);
            }
            else
            {
                answer = Answer(client, peer);
            }

            try
            {
                client.Send(Encoding.UTF8.GetBytes(answer.ToJsonString() + "\n"));
            }
            catch (SocketException e)
            {
                _logger.LogDebug("Control socket: the client left before the answer: {Reason}", e.Message);
            }
        }
    }

    private JsonObject Answer(Socket client, PeerCredentials peer)
    {
        JsonObject? request;
        try
        {
            request = JsonNode.Parse(ControlLine.Read(client, MaxRequestBytes)) as JsonObject;
        }
        catch (Exception e) when (e is JsonException or ControlSocketException or SocketException)
        {
            return ControlAnswer.Error($"malformed request: {e.Message}", ControlAnswer.Usage);
        }

        if (request?["op"]?.GetValueKind() != JsonValueKind.String)
        {
            return ControlAnswer.Error("malformed request: an object with a string 'op' is required", ControlAnswer.Usage);
        }

        _logger.LogInformation("Control request {Op} from uid {Uid} (pid {Pid})", request["op"]!.GetValue<string>(), peer.Uid, peer.Pid);
        try
        {
            return _handle(request);
        }
#pragma warning disable CA1031 // Whatever one request does wrong is answered to its client, never crashing the volumes' process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return ControlAnswer.Error(e.Message, e is Core.Backing.FsException or ArgumentException ? ControlAnswer.Usage : ControlAnswer.Failure);
        }
    }
}

/// <summary>The control socket cannot be used: its path is taken, refused, or nobody listens.</summary>
public sealed class ControlSocketException : Exception
{
    public ControlSocketException()
    {
    }

    public ControlSocketException(string message)
        : base(message)
    {
    }

    public ControlSocketException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Nothing answers at the socket (its process is gone): not a refusal.</summary>
    public bool NobodyListening { get; init; }
}

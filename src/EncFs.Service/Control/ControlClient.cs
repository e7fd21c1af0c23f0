using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EncFs.Service.Control;

/// <summary>Sends one request to a control socket and returns its answer.</summary>
public static class ControlClient
{
    private const int MaxAnswerBytes = 4 * 1024 * 1024;

    /// <summary>The answer; <see cref="ControlSocketException"/> when nobody listens or the socket refuses this user.</summary>
    public static JsonObject Send(string socketPath, JsonObject request, TimeSpan? timeout = null)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        int milliseconds = (int)(timeout ?? TimeSpan.FromMinutes(5)).TotalMilliseconds;
        socket.SendTimeout = milliseconds;
        socket.ReceiveTimeout = milliseconds;
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new ControlSocketException($"permission denied on the control socket '{socketPath}' (it answers root and its owner only)", e);
        }
        catch (SocketException e)
        {
            throw new ControlSocketException($"no efs is listening on the control socket '{socketPath}' ({e.Message})", e) { NobodyListening = true };
        }

        try
        {
            socket.Send(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"));
            var line = ControlLine.Read(socket, MaxAnswerBytes);
            return JsonNode.Parse(line) as JsonObject
                ?? throw new ControlSocketException($"the control socket '{socketPath}' answered something that is not a JSON object");
        }
        catch (Exception e) when (e is SocketException or JsonException)
        {
            throw new ControlSocketException($"the control socket '{socketPath}' failed: {e.Message}", e);
        }
    }

    /// <summary>Where a process that is not the service puts its control socket: /run/efs for root, the user's runtime directory otherwise.</summary>
    public static string RuntimeDirectory()
    {
        if (Core.Backing.BackingFs.IsRoot)
        {
            return "/run/efs";
        }

        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return string.IsNullOrEmpty(runtime) ? $"/tmp/efs-{Core.Backing.BackingFs.EffectiveUid}" : Path.Combine(runtime, "efs");
    }

    /// <summary>The default control socket of the service.</summary>
    public const string ServiceSocket = "/run/efs/control.sock";
}

using System.Text.Json.Nodes;

namespace EncFs.Service.Control;

/// <summary>
/// Answers on the control socket: {"ok": true, ...} or {"ok": false, "error": text, "exit": code},
/// where the code is the one the `efs` command exits with (1 failure, 2 bad input).
/// </summary>
public static class ControlAnswer
{
    public const int Failure = 1, Usage = 2;

    /// <summary>Exit code of an answer refused for lack of permission.</summary>
    public const int PermissionDenied = 2;

    /// <summary>Marks a request for a volume this process does not have: the caller may open the volume itself.</summary>
    public const string NotHere = "notHere";

    public static JsonObject Ok(JsonObject? body = null)
    {
        var answer = body ?? [];
        answer["ok"] = true;
        return answer;
    }

    public static JsonObject Error(string message, int exit) => new() { ["ok"] = false, ["error"] = message, ["exit"] = exit };

    public static JsonObject NotServed(string volume) =>
        new() { ["ok"] = false, ["error"] = $"no volume '{volume}' is served here", ["exit"] = Usage, [NotHere] = true };
}

using System.Text.Json.Nodes;
using EncFs.Core.Volume;
using EncFs.Fuse.Mounting;
using EncFs.Service.Control;

namespace EncFs.Cli.Infrastructure;

/// <summary>
/// Commands given a mounted volume go to the process serving it (its control socket, named in
/// the volume's lock file), so they take effect at once without a remount.
/// </summary>
internal static class LiveVolume
{
    /// <summary>The backing directory of <paramref name="volume"/>: itself, or the source of the efs mount at that path.</summary>
    public static string BackingOf(string volume)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(volume));
        return MountTable.Find(full) is { FileSystemType: MountTable.FileSystemType } entry ? entry.Source : full;
    }

    /// <summary>
    /// Sends <paramref name="request"/> to the process that has the volume open; null when none
    /// does (the caller opens the volume itself). A refusal becomes a <see cref="RemoteFailureException"/>.
    /// </summary>
    public static JsonObject? TrySend(string volume, JsonObject request)
    {
        var backing = BackingOf(volume);
        if (EncryptedVolume.FindControlSocket(backing) is not { } socket || !File.Exists(socket))
        {
            return null;
        }

        request["volume"] = backing;
        JsonObject answer;
        try
        {
            answer = ControlClient.Send(socket, request);
        }
        catch (ControlSocketException e) when (e.NobodyListening)
        {
            return null; // a dead holder (its pid reused since): the volume is not served
        }

        if (answer[ControlAnswer.NotHere]?.GetValue<bool>() == true)
        {
            return null;
        }

        if (answer["ok"]?.GetValue<bool>() != true)
        {
            throw new RemoteFailureException(answer["error"]?.GetValue<string>() ?? "the mounted volume's process refused the request", answer["exit"]?.GetValue<int>() ?? ExitCodes.Failure);
        }

        return answer;
    }
}

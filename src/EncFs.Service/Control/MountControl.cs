using System.Text.Json.Nodes;

namespace EncFs.Service.Control;

/// <summary>The control protocol of a process serving one mount (efs mount): its volume's operations, list and unmount.</summary>
public static class MountControl
{
    public static Func<JsonObject, JsonObject> Handler(VolumeControl volume, Action unmount) => request =>
    {
        var op = request["op"]!.GetValue<string>();
        if (op == "list")
        {
            return ControlAnswer.Ok(new JsonObject { ["volumes"] = new JsonArray(Describe(volume)) });
        }

        if (request["volume"]?.GetValue<string>() is { } named && !volume.Matches(named))
        {
            return ControlAnswer.NotServed(named);
        }

        if (op == "unmount")
        {
            unmount();
            return ControlAnswer.Ok(new JsonObject { ["unmounted"] = volume.MountPoint });
        }

        return volume.Handle(op, request) ?? ControlAnswer.Error($"unknown operation '{op}'", ControlAnswer.Usage);
    };

    private static JsonObject Describe(VolumeControl volume)
    {
        var status = volume.Status();
        status["state"] = "mounted";
        return status;
    }
}

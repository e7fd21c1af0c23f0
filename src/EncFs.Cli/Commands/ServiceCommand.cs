using System.CommandLine;
using EncFs.Cli.Infrastructure;
using EncFs.Keys.Hardening;
using System.Text.Json.Nodes;
using EncFs.Service;
using EncFs.Service.Control;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EncFs.Cli.Commands;

/// <summary>efs service --config F: keeps the configured volumes mounted, as a systemd service (Type=notify) or by hand.</summary>
internal static class ServiceCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "The service's JSON configuration (volumes, credentials, retry, control socket)" };
        var command = new Command("service", "Run as a service (--config): mount the configured volumes, keep them mounted, unmount them all on stop; or talk to the running service") { config };
        command.Subcommands.Add(StatusVerb());
        command.Subcommands.Add(MountVerb("mount", "Mount a configured volume that was unmounted (or retry a failed one now)"));
        command.Subcommands.Add(MountVerb("unmount", "Unmount a configured volume and keep it unmounted until 'efs service mount'"));
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var path = result.GetValue(config) ?? throw new UsageException("give the configuration: efs service --config <file> (or a subcommand: status, mount, unmount)");
            ServiceConfig settings;
            try
            {
                settings = ServiceConfig.Load(Path.GetFullPath(path));
            }
            catch (ServiceConfigException e)
            {
                throw new UsageException(e.Message, e);
            }

            ProcessHardening.MakeNonDumpable();
            var builder = Host.CreateApplicationBuilder();
            builder.Services.AddSystemd();
            builder.Services.AddWindowsService(o => o.ServiceName = "EncFs");
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
            builder.Services.AddSingleton(settings);
            builder.Services.AddHostedService<MountSupervisor>();
            using var host = builder.Build();
            host.Run();
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Option<string> SocketOption() => new("--socket")
    {
        Description = "The service's control socket",
        DefaultValueFactory = _ => ControlClient.ServiceSocket,
    };

    private static Command StatusVerb()
    {
        var socket = SocketOption();
        var json = new Option<bool>("--json") { Description = "Print the answer as JSON" };
        var command = new Command("status", "List the service's volumes: state, last error, scopes and their access, key checks") { socket, json };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var answer = Ask(result.GetRequiredValue(socket), new JsonObject { ["op"] = "list" });
            var volumes = answer["volumes"]!.AsArray();
            if (result.GetValue(json))
            {
                Console.WriteLine(volumes.ToJsonString());
                return ExitCodes.Ok;
            }

            foreach (var volume in volumes)
            {
                Console.WriteLine($"{volume!["name"]}: {volume["state"]}  {volume["backing"]} -> {volume["mountPoint"]}{(volume["lastError"] is { } error ? $"  (last error: {error})" : string.Empty)}");
                foreach (var scope in volume["scopes"]?.AsArray() ?? [])
                {
                    Console.WriteLine($"  scope {scope!["name"]}: {scope["access"]}, {scope["keySource"]} {scope["kekId"]} ({scope["kekVersion"]}), DEK generation {scope["dekGeneration"]}");
                }

                if (volume["reencryption"] is JsonObject job && job["state"]?.GetValue<string>() != "none")
                {
                    Console.WriteLine($"  re-encryption: {job["state"]}, {job["entriesScanned"]} entries scanned, {job["filesRewritten"]} files ({(job["bytesRewritten"]?.GetValue<long>() ?? 0) / (1024 * 1024)} MiB) rewritten");
                }

                if (volume["lastKeyCheck"] is { } checkedAt)
                {
                    Console.WriteLine($"  last key check: {checkedAt}");
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command MountVerb(string op, string description)
    {
        var name = new Argument<string>("volume") { Description = "The volume's name in the configuration (or its backing directory or mount point)" };
        var socket = SocketOption();
        var command = new Command(op, description) { name, socket };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            var answer = Ask(result.GetRequiredValue(socket), new JsonObject { ["op"] = op, ["volume"] = result.GetRequiredValue(name) });
            Console.Error.WriteLine($"Volume '{answer["volume"]}': {answer["state"]}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static JsonObject Ask(string socket, JsonObject request)
    {
        var answer = ControlClient.Send(socket, request);
        return answer["ok"]?.GetValue<bool>() == true
            ? answer
            : throw new RemoteFailureException(answer["error"]?.GetValue<string>() ?? "the service refused the request", answer["exit"]?.GetValue<int>() ?? ExitCodes.Failure);
    }
}

using System.CommandLine;
using EncFs.Cli.Infrastructure;
using EncFs.Keys.Hardening;
using EncFs.Service;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EncFs.Cli.Commands;

/// <summary>efs service --config F: keeps the configured volumes mounted, as a systemd service (Type=notify) or by hand.</summary>
internal static class ServiceCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "The service's JSON configuration (volumes, credentials, retry)", Required = true };
        var command = new Command("service", "Run as a service: mount the configured volumes, keep them mounted, unmount them all on stop") { config };
        command.SetAction(result => ExitCodes.Run(() =>
        {
            ServiceConfig settings;
            try
            {
                settings = ServiceConfig.Load(Path.GetFullPath(result.GetRequiredValue(config)));
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
}

using System.CommandLine;
using EncFs.Cli.Commands;
using EncFs.Cli.Infrastructure;

namespace EncFs.Cli;

/// <summary>The efs command: exit 0 ok, 1 failure, 2 usage or bad input.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("EncFs: a transparent encrypting filesystem (AES-256-XTS sectors, envelope-encrypted keys)")
        {
            InitCommand.Create(),
            StatusCommand.Create(),
            RecoverCommand.Create(),
            MountCommand.Create(),
            UnmountCommand.Create(),
            ScopeCommand.Create(),
            KeyCommand.Create(),
            ImportCommand.Create(),
            ServiceCommand.Create(),
            AttackCommand.Create(),
        };
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                Console.Error.WriteLine($"efs: {error.Message}");
            }

            Console.Error.WriteLine("Run 'efs --help' for usage.");
            return ExitCodes.Usage;
        }

        return result.Invoke();
    }
}

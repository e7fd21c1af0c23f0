using Microsoft.Extensions.Logging;

namespace EncFs.Core.Volume;

/// <summary>The volume's structured log lines.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Scope override denied for {Entry}: directory scope {DirectoryScope}, requested {RequestedScope}")]
    public static partial void LogScopeOverrideDenied(this ILogger logger, string entry, string directoryScope, string requestedScope);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Skipping undecryptable entry {BackingName} in {BackingDirectory}")]
    public static partial void LogUndecryptableName(this ILogger logger, string backingName, string backingDirectory);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "File header of {BackingPath} cannot be read: {Reason}")]
    public static partial void LogDamagedHeader(this ILogger logger, string backingPath, string reason);
}

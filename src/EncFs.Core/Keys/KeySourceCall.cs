using EncFs.Core.Format;

namespace EncFs.Core.Keys;

/// <summary>
/// Calls into a key source (an HSM, a vault) with a time limit: a source that hangs makes its
/// scope unavailable, with an error naming scope and source, instead of hanging the volume.
/// </summary>
public static class KeySourceCall
{
    /// <summary>How long a key source may take to answer unless configured otherwise.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(30);

    public static T Run<T>(ScopeRecord scope, TimeSpan timeout, Func<T> call)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return call();
        }

        var task = Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(timeout))
        {
            // The call goes on in the background; whatever it returns late is released.
            _ = task.ContinueWith(t => (t.Result as IDisposable)?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw new KeyUnavailableException($"scope '{scope.Name}': key source {scope.KeySourceType} did not answer within {timeout.TotalSeconds:0.#} s");
        }

        return task.GetAwaiter().GetResult();
    }
}

namespace LowLatencyBatcher.Reliability.Tests.Support;

/// <summary>
/// Every wait of this suite goes through here: a hang fails the test with a message instead of hanging the run.
/// The bounds are generous (a busy, shared two-core machine); nothing here measures time.
/// </summary>
internal static class Bounded
{
    /// <summary>Anything that should happen "soon".</summary>
    public static readonly TimeSpan Soon = TimeSpan.FromSeconds(30);

    /// <summary>A whole stress run.</summary>
    public static readonly TimeSpan Run = TimeSpan.FromMinutes(4);

    public static async Task Within(this Task task, TimeSpan bound, string what)
    {
        try
        {
            await task.WaitAsync(bound);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // Only the bound's own timeout: a task that failed with a TimeoutException of its own (a record's
            // deadline) passes that exception through unchanged.
            throw new TimeoutException($"Hung: {what} did not finish within {bound.TotalSeconds:F0} s.");
        }
    }

    public static async Task<T> Within<T>(this Task<T> task, TimeSpan bound, string what)
    {
        try
        {
            return await task.WaitAsync(bound);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            // Only the bound's own timeout: a task that failed with a TimeoutException of its own (a record's
            // deadline) passes that exception through unchanged.
            throw new TimeoutException($"Hung: {what} did not finish within {bound.TotalSeconds:F0} s.");
        }
    }

    public static Task Soonish(this Task task, string what) => task.Within(Soon, what);

    public static Task<T> Soonish<T>(this ValueTask<T> task, string what) => task.AsTask().Within(Soon, what);

    public static Task Soonish(this ValueTask task, string what) => task.AsTask().Within(Soon, what);

    /// <summary>Polls until <paramref name="condition"/> holds; fails after <see cref="Soon"/>.</summary>
    public static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Soon;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(1);
        }
    }
}

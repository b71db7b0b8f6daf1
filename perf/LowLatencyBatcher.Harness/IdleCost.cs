using System.Diagnostics;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// What a batcher costs while nothing arrives: after a closed-loop burst, a settle pause, then the process CPU time
/// over a quiet interval, as a percentage of one core. Each measurement starts its contender fresh and alone in the
/// process (the other is not alive), because process CPU time counts every thread: a batcher that spins while idle
/// would otherwise be billed to whichever contender is being measured.
/// </summary>
internal static class IdleCost
{
    /// <summary>
    /// One measurement of <paramref name="contender"/>, or of the harness alone (the floor every figure includes:
    /// runtime threads, timers) when it is null.
    /// </summary>
    public static async Task<double> MeasureAsync(Contender? contender, int burstRecords, TimeSpan settle, TimeSpan quiet)
    {
        switch (contender)
        {
            case Contender.TokenBatcher:
                await using (var ours = await NoOpBatchers.StartTokenBatcherAsync())
                {
                    return await BurstThenQuietAsync(new TokenBatcherSubmitter(ours), burstRecords, settle, quiet);
                }

            case Contender.Channel:
                await using (var channel = NoOpBatchers.StartChannel())
                {
                    return await BurstThenQuietAsync(new ChannelSubmitter(channel), burstRecords, settle, quiet);
                }

            case null:
                await Task.Delay(settle);
                return Quiet(quiet);
            default:
                throw new ArgumentOutOfRangeException(nameof(contender), contender, "only ours and the Channel baseline are measured");
        }
    }

    private static async Task<double> BurstThenQuietAsync<TSubmitter>(TSubmitter submitter, int burstRecords, TimeSpan settle, TimeSpan quiet)
        where TSubmitter : struct, ISubmitter
    {
        const int producers = 64;
        await ClosedLoop.RunAsync(submitter, producers, Math.Max(1, burstRecords / producers));
        await Task.Delay(settle);
        return Quiet(quiet);
    }

    /// <summary>The caller sleeps (no thread-pool work of its own) while the process CPU time is read around it.</summary>
    private static double Quiet(TimeSpan quiet)
    {
        TimeSpan cpu = CpuClock.Now();
        long start = Stopwatch.GetTimestamp();
        Thread.Sleep(quiet);
        return 100 * (CpuClock.Now() - cpu).TotalSeconds / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// The idle regime: one caller submits a lone record about every <see cref="Spacing"/> (measured from the previous
/// submit), awaits its result, and records submit → result in an HdrHistogram. Between records the batcher has
/// nothing to do, so every record meets an engine that has gone idle (parked) and must wake it.
/// </summary>
/// <remarks>
/// The caller is an async loop that awaits each result, as a service handler would. Blocking on the result instead
/// would not be fair: a blocked <c>Task.Wait</c> is woken directly by the Channel baseline's task source (it bypasses
/// <c>RunContinuationsAsynchronously</c>), while the library's <see cref="ValueTask{TResult}"/> can only be blocked on
/// through <c>AsTask()</c>, one extra hop; awaiting puts both through the path users take. The gap is slept with
/// nanosleep (no <c>Task.Delay</c>: its timer granularity and extra thread-pool hop would pace the records unevenly);
/// it blocks the one pool thread the loop runs on and burns no CPU, so the engine really is idle in between.
/// </remarks>
internal sealed class IdleLatencyMeasurement(int records, TimeSpan spacing) : IMeasurement<Percentiles>
{
    /// <summary>The time from one submit to the next (less when a result takes longer than that).</summary>
    public TimeSpan Spacing { get; } = spacing;

    public Task<Percentiles> RunAsync<TSubmitter>(TSubmitter submitter)
        where TSubmitter : struct, ISubmitter =>
        Task.Run(async () =>
        {
            var histogram = Measure.NewHistogram();
            long previous = Stopwatch.GetTimestamp();
            for (int i = 0; i < records; i++)
            {
                long due = previous + (long)(Spacing.TotalSeconds * Stopwatch.Frequency);
                Measure.Sleep(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due));
                long start = Stopwatch.GetTimestamp();
                int result = await submitter.SubmitAsync(i).ConfigureAwait(false);
                histogram.RecordValue(Measure.Nanoseconds(Stopwatch.GetTimestamp() - start));
                previous = start;
                if (result != i)
                {
                    throw new InvalidOperationException("a record got another record's result");
                }
            }

            return Measure.Percentiles(histogram);
        });
}

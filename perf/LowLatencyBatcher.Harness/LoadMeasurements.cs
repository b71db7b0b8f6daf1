using System.Diagnostics;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>Records/s of one run and the CPU it took per record (every thread of the process, spinning included).</summary>
internal readonly record struct LoadFigures(double RecordsPerSecond, double CpuMicrosecondsPerRecord);

/// <summary>Process CPU time: every thread of the process, user and kernel, whatever it was doing.</summary>
internal static class CpuClock
{
    public static TimeSpan Now()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }
}

/// <summary>Closed loop: <c>producers</c> producers, each awaiting its result before the next submit.</summary>
internal sealed class ClosedLoopMeasurement(int producers, int records) : IMeasurement<LoadFigures>
{
    public async Task<LoadFigures> RunAsync<TSubmitter>(TSubmitter submitter)
        where TSubmitter : struct, ISubmitter
    {
        int perProducer = Math.Max(1, records / producers);
        TimeSpan cpu = CpuClock.Now();
        long start = Stopwatch.GetTimestamp();
        await ClosedLoop.RunAsync(submitter, producers, perProducer);
        return Figures(start, cpu, (long)perProducer * producers);
    }

    internal static LoadFigures Figures(long start, TimeSpan cpuBefore, long done)
    {
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpuMicroseconds = (CpuClock.Now() - cpuBefore).TotalMicroseconds;
        return new LoadFigures(done / seconds, cpuMicroseconds / done);
    }
}

/// <summary>
/// Pipelined: <c>producers</c> producers that each keep <c>depth</c> records in flight, submitting a new one as soon as
/// any of theirs completes (a sliding window, the usual meaning of "N in flight"; windows that submit N and await them
/// all would idle the producer on its slowest record each time). A producer is <c>depth</c> closed-loop chains.
/// </summary>
internal sealed class PipelinedMeasurement(int producers, int depth, int records) : IMeasurement<LoadFigures>
{
    public async Task<LoadFigures> RunAsync<TSubmitter>(TSubmitter submitter)
        where TSubmitter : struct, ISubmitter
    {
        int perChain = Math.Max(1, records / (producers * depth));
        TimeSpan cpu = CpuClock.Now();
        long start = Stopwatch.GetTimestamp();
        var tasks = new Task[producers];
        for (int p = 0; p < producers; p++)
        {
            tasks[p] = Task.Run(() => ProduceAsync(submitter, depth, perChain));
        }

        await Task.WhenAll(tasks);
        return ClosedLoopMeasurement.Figures(start, cpu, (long)perChain * depth * producers);
    }

    private static Task ProduceAsync<TSubmitter>(TSubmitter submitter, int depth, int perChain)
        where TSubmitter : struct, ISubmitter
    {
        var chains = new Task[depth];
        for (int c = 0; c < depth; c++)
        {
            chains[c] = ChainAsync(submitter, perChain);
        }

        return Task.WhenAll(chains);
    }

    private static async Task ChainAsync<TSubmitter>(TSubmitter submitter, int count)
        where TSubmitter : struct, ISubmitter
    {
        for (int i = 0; i < count; i++)
        {
            if (await submitter.SubmitAsync(i).ConfigureAwait(false) != i)
            {
                throw new InvalidOperationException("a record got another record's result");
            }
        }
    }
}

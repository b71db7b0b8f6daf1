using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// Bytes allocated per submit, by difference: two closed-loop phases of different lengths cost the same fixed amount
/// (the producers' own tasks), so (big - small) / (extra submits) is the marginal cost of one submit. The count covers
/// every thread of the process; an unrelated burst (the runtime's own) can inflate one repetition, never shrink one,
/// so the lowest of a few repetitions is the figure that says whether a submit allocates.
/// </summary>
internal static class Allocation
{
    public static async Task<AllocationResult> MeasureAsync(
        Contender contender, int producers, int small, int big, int attempts, TextWriter log)
    {
        var figures = new List<double>();
        switch (contender)
        {
            case Contender.TokenBatcher:
                await using (var ours = await NoOpBatchers.StartTokenBatcherAsync())
                {
                    await RunAsync(new TokenBatcherSubmitter(ours), producers, small, big, attempts, figures);
                }

                break;
            case Contender.Channel:
                await using (var channel = NoOpBatchers.StartChannel())
                {
                    await RunAsync(new ChannelSubmitter(channel), producers, small, big, attempts, figures);
                }

                break;
            default:
                await using (var dataflow = NoOpBatchers.StartDataflow())
                {
                    await RunAsync(new DataflowSubmitter(dataflow), producers, small, big, attempts, figures);
                }

                break;
        }

        var result = new AllocationResult(contender.ToString(), producers, figures.Min(Math.Abs), figures);
        log.WriteLine($"  {contender}: {result.BytesPerSubmit:F3} B per submit " +
            $"(repetitions: {string.Join(", ", figures.Select(f => f.ToString("F3")))})");
        return result;
    }

    private static async Task RunAsync<TSubmitter>(
        TSubmitter submitter, int producers, int small, int big, int attempts, List<double> figures)
        where TSubmitter : struct, ISubmitter
    {
        await ClosedLoop.RunAsync(submitter, producers, small); // warm-up: pools, thread pool threads, tiered JIT
        await ClosedLoop.RunAsync(submitter, producers, small);
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            long smallBytes = await PhaseAsync(submitter, producers, small);
            long bigBytes = await PhaseAsync(submitter, producers, big);
            double perSubmit = (double)(bigBytes - smallBytes) / ((long)(big - small) * producers);
            figures.Add(perSubmit);
            if (Math.Abs(perSubmit) < 0.01)
            {
                break; // nothing allocated per submit: more repetitions cannot lower it
            }
        }
    }

    private static async Task<long> PhaseAsync<TSubmitter>(TSubmitter submitter, int producers, int perProducer)
        where TSubmitter : struct, ISubmitter
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await ClosedLoop.RunAsync(submitter, producers, perProducer);
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }
}

internal sealed record AllocationResult(string Name, int Producers, double BytesPerSubmit, List<double> Repetitions);

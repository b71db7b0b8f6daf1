using Xunit.Abstractions;

namespace LowLatencyBatcher.Tests;

[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationTestsCollection;

/// <summary>
/// Measures allocation with <see cref="GC.GetTotalAllocatedBytes(bool)"/>, which counts every thread: the producers,
/// the packing thread and the workers. The collection runs alone so that no other test's allocations are counted.
/// </summary>
[Collection(nameof(AllocationTests))]
public class AllocationTests(ITestOutputHelper output)
{
    private const int Producers = 8;

    [OptimizedBuildFact]
    public async Task ASteadyStateSubmitAndAwaitAllocatesNothing()
    {
        await AssertSubmitsAllocateNothing(
            new DynamicBatcherOptions<int> { MaxQueueSize = 1024, MaxBatchSize = 64, Workers = 2 }, chainsPerProducer: 1);
    }

    [OptimizedBuildFact]
    public async Task ManyRecordsInFlightAllocateNothing()
    {
        // 8 producers × 64 records in flight each: while the worker runs one batch, the callers of earlier ones are
        // still being resumed, by the worker and by pool work items at once. The batches and the sets their outcomes
        // are resumed from must all come from the pools however many of those resumptions overlap.
        await AssertSubmitsAllocateNothing(
            new DynamicBatcherOptions<int> { MaxQueueSize = 1024, MaxBatchSize = 64 }, chainsPerProducer: 64);
    }

    /// <summary>
    /// Runs a batcher with a no-op process function and <paramref name="options"/> under <see cref="Producers"/> producers
    /// of <paramref name="chainsPerProducer"/> records in flight each, and asserts that a submit allocates nothing.
    /// </summary>
    private async Task AssertSubmitsAllocateNothing(DynamicBatcherOptions<int> options, int chainsPerProducer)
    {
        await using var batcher = new DynamicBatcher<int, int>((batch, _) => ValueTask.FromResult(batch), options);
        await batcher.StartAsync();
        await RunPhase(batcher, 20_000 / chainsPerProducer, chainsPerProducer); // warm-up: pools, pool threads, tiered JIT
        await RunPhase(batcher, 20_000 / chainsPerProducer, chainsPerProducer);

        // Each phase has a fixed cost (tasks and state machines of the producers themselves). Two phases of different
        // lengths isolate the cost per submit: (big - small) / (extra submits). The count covers every thread of the
        // process, the test host's included, which now and then allocates a burst of its own; a per-submit allocation
        // of ours would show in every repetition, so the lowest figure is the one that says whether submits allocate.
        int small = 20_000 / chainsPerProducer, big = 120_000 / chainsPerProducer;
        long extraSubmits = (long)(big - small) * Producers * chainsPerProducer;
        var figures = new List<double>();
        for (int attempt = 0; attempt < 5; attempt++)
        {
            long smallBytes = await MeasurePhase(batcher, small, chainsPerProducer);
            long bigBytes = await MeasurePhase(batcher, big, chainsPerProducer);
            double perSubmit = (double)(bigBytes - smallBytes) / extraSubmits;
            figures.Add(perSubmit);
            output.WriteLine($"{chainsPerProducer} in flight per producer: phase of {small * Producers * chainsPerProducer:N0} " +
                $"submits: {smallBytes:N0} B; of {big * Producers * chainsPerProducer:N0}: {bigBytes:N0} B; {perSubmit:F4} B per submit");
            if (Math.Abs(perSubmit) < 0.01)
            {
                break;
            }
        }

        // The smallest object is 24 bytes: an allocation on every submit (or on one in 24) would show as >= 1 B here.
        double best = figures.Min(Math.Abs);
        Assert.True(best < 1.0, $"{best:F4} bytes allocated per submit (all: {string.Join(", ", figures)})");
    }

    /// <summary>A value-type record that estimates its own tokens (like a token-id sequence).</summary>
    private readonly record struct Tokens(int Count) : ITokenEstimator
    {
        public int EstimateTokens() => Count;
    }

    [OptimizedBuildFact]
    public async Task AValueTypeRecordThatEstimatesItselfIsNotBoxed()
    {
        await using var batcher = new TokenBatcher<Tokens, Tokens>(
            (batch, _) => ValueTask.FromResult(batch),
            new TokenBatcherOptions<Tokens> { MaxQueueSize = 1024, MaxBatchSize = 64 });
        await batcher.StartAsync();
        for (int i = 0; i < 1_000; i++)
        {
            await batcher.SubmitAsync(new Tokens(3)); // warm-up
        }

        // One producer awaiting each submit in turn: the same loop twice, of different lengths.
        long small = await Measure(10_000);
        long big = await Measure(110_000);
        double perSubmit = (double)(big - small) / 100_000;
        output.WriteLine($"{perSubmit:F4} B per submit of a self-estimating struct");
        Assert.True(perSubmit < 1.0, $"{perSubmit:F4} bytes allocated per submit");
        Assert.Equal(3.0, batcher.Stats.AvgBatchCost / batcher.Stats.AvgBatchSize, precision: 6); // the estimate was used

        async Task<long> Measure(int count)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await Task.Run(async () =>
            {
                for (int i = 0; i < count; i++)
                {
                    await batcher.SubmitAsync(new Tokens(3));
                }
            });
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
    }

    private static async Task<long> MeasurePhase(DynamicBatcher<int, int> batcher, int perChain, int chainsPerProducer)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await RunPhase(batcher, perChain, chainsPerProducer);
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    /// <summary>Each producer runs <paramref name="chainsPerProducer"/> loops of <paramref name="perChain"/> submits, each awaited in turn.</summary>
    private static Task RunPhase(DynamicBatcher<int, int> batcher, int perChain, int chainsPerProducer)
    {
        var producers = new Task[Producers];
        for (int p = 0; p < Producers; p++)
        {
            producers[p] = Task.Run(() =>
            {
                var chains = new Task[chainsPerProducer];
                for (int c = 0; c < chainsPerProducer; c++)
                {
                    chains[c] = Produce(batcher, perChain);
                }

                return Task.WhenAll(chains);
            });
        }

        return Task.WhenAll(producers).WaitAsync(Wait.Generous);
    }

    private static async Task Produce(DynamicBatcher<int, int> batcher, int count)
    {
        long sum = 0;
        for (int i = 0; i < count; i++)
        {
            sum += await batcher.SubmitAsync(i);
        }

        if (sum != (long)count * (count - 1) / 2)
        {
            throw new InvalidOperationException("a result went to the wrong caller");
        }
    }
}

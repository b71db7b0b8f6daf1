using System.Collections.Concurrent;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Tests;

public class StressTests(ITestOutputHelper output)
{
    private sealed record Job(int Producer, int Sequence, int Cost) : ICostEstimator
    {
        public int EstimateCost() => Cost;
    }

    private sealed class PoisonException(int batchId) : Exception($"batch {batchId} failed")
    {
        public int BatchId { get; } = batchId;
    }

    [Fact]
    public async Task EveryRecordCompletesExactlyOnceWithItsOwnResultOrItsBatchsException()
    {
        const int Producers = 12, PerProducer = 20_000, Window = 16, Target = 300, MaxSize = 64;
        var failedBatches = new ConcurrentDictionary<int, Job[]>();
        var batchViolations = new ConcurrentQueue<string>();
        int batchIds = 0;
        await using var batcher = new DynamicBatcher<Job, long>(
            (batch, _) =>
            {
                int id = Interlocked.Increment(ref batchIds);
                var jobs = batch.ToArray();
                if (jobs.Length > 1 && jobs.Sum(j => j.Cost) > Target || jobs.Length > MaxSize)
                {
                    batchViolations.Enqueue($"batch {id}: {jobs.Length} records costing {jobs.Sum(j => j.Cost)}");
                }

                foreach (var group in jobs.GroupBy(j => j.Producer))
                {
                    var sequences = group.Select(j => j.Sequence).ToArray();
                    if (!sequences.SequenceEqual(sequences.Order()))
                    {
                        batchViolations.Enqueue($"batch {id}: producer {group.Key} out of order");
                    }
                }

                if (jobs.Any(j => j.Sequence % 997 == 13))
                {
                    failedBatches[id] = jobs;
                    throw new PoisonException(id);
                }

                return ValueTask.FromResult<IReadOnlyList<long>>(jobs.Select(Key).ToArray());
            },
            new DynamicBatcherOptions<Job>
            {
                TargetBatchCost = Target, MaxBatchSize = MaxSize, Workers = 3, PrefetchBatches = 2, MaxQueueSize = 256,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
            });
        await batcher.StartAsync();

        var outcomes = new int[Producers * PerProducer];
        var wrong = new ConcurrentQueue<string>();
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            var random = new Random(p);
            var inFlight = new Queue<(Job Job, ValueTask<long> Result)>();
            for (int s = 0; s < PerProducer || inFlight.Count > 0;)
            {
                if (s < PerProducer && inFlight.Count < Window)
                {
                    int cost = random.Next(10) == 0 ? Target + random.Next(1, 50) : random.Next(0, 40);
                    var job = new Job(p, s++, cost);
                    inFlight.Enqueue((job, batcher.SubmitAsync(job)));
                    continue;
                }

                var (done, result) = inFlight.Dequeue();
                try
                {
                    long value = await result;
                    if (value != Key(done))
                    {
                        wrong.Enqueue($"{done} got {value}");
                    }
                }
                catch (PoisonException e)
                {
                    if (!failedBatches.TryGetValue(e.BatchId, out var members) || !members.Contains(done))
                    {
                        wrong.Enqueue($"{done} got the exception of batch {e.BatchId}, which it was not in");
                    }
                }

                Interlocked.Increment(ref outcomes[p * PerProducer + done.Sequence]);
            }
        }))).WaitAsync(TimeSpan.FromMinutes(3));

        await batcher.StopAsync().Bounded();
        var stats = batcher.Stats;
        output.WriteLine($"{stats.TotalSubmitted:N0} records in {stats.TotalBatches:N0} batches " +
            $"(avg {stats.AvgBatchSize:F1} records, {stats.AvgBatchCost:F0} cost), {failedBatches.Count} batches failed");
        Assert.Empty(wrong);
        Assert.Empty(batchViolations);
        Assert.All(outcomes, count => Assert.Equal(1, count));
        Assert.Equal(Producers * PerProducer, stats.TotalSubmitted);
        Assert.Equal(Producers * PerProducer, stats.TotalCompleted);
        Assert.NotEmpty(failedBatches);
    }

    private static long Key(Job job) => ((long)job.Producer << 32) | (uint)job.Sequence;
}

using System.Collections.Concurrent;
using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// Cost buckets with the padded cost model under load: 32 producers submit records of long-tailed random costs
/// (zero, short, medium, long, and longer than the whole budget) into buckets [16, 64, 256] with
/// <c>CostModel.Padded</c> and a per-batch cost, while batches are sometimes slow and sometimes throw.
/// </summary>
/// <remarks>
/// Rules, for every batch: at most <c>MaxBatchSize</c> records; every record of one bucket (the first bound at least its
/// cost, the last bucket for the rest); padded cost (the costliest record × the count + <c>PerBatchCost</c>) within the
/// target unless the batch holds a lone record; FIFO within a bucket (with one worker the dispatch order is exact: a
/// record accepted before another record of its bucket began its submit is dispatched first; with several workers,
/// within each batch). For every record: exactly one outcome, its own result or its batch's fault. The statistics:
/// <c>TotalBatchCost</c> is the sum of the padded costs the test computed.
/// </remarks>
public class BucketStressTests(ITestOutputHelper output)
{
    private const int Producers = 32;
    private const int Window = 4;
    private const int Target = 1_024;
    private const int PerBatchCost = 16;
    private const int MaxBatch = 32;
    private static readonly int[] Bounds = [16, 64, 256];

    [Theory]
    [InlineData(1, 1, 25_000, 41)]
    [InlineData(3, 4, 40_000, 42)]
    public async Task EveryBatchHoldsOneBucketWithinThePaddedBudgetInOrder(int workers, int minBatch, int records, int seed)
    {
        var run = new Run(records, seed, workers);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<Item, long>(
            run.ProcessAsync,
            new DynamicBatcherOptions<Item>
            {
                Workers = workers,
                PrefetchBatches = 2,
                MaxBatchSize = MaxBatch,
                MinBatchSize = minBatch,
                TargetBatchCost = Target,
                PerBatchCost = PerBatchCost,
                CostModel = CostModel.Padded,
                CostBuckets = Bounds,
                MaxQueueSize = 1_024,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
                Observer = observer,
            });
        var clock = Stopwatch.StartNew();
        await batcher.StartAsync();
        await StressKit.RunProducers(Producers, records, Window, seed, (_, id, _, random) => run.SubmitAndObserve(batcher, id, random), "the producers");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        string summary = run.Verify(stats, observer);
        output.WriteLine($"workers {workers}, min {minBatch}: {records:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(summary);
        run.Violations.AssertNone();
    }

    internal sealed record Item(int Id, int Cost);

    private static int BucketOf(int cost)
    {
        int bucket = 0;
        while (bucket < Bounds.Length && cost > Bounds[bucket])
        {
            bucket++;
        }

        return bucket;
    }

    private sealed class Run(int records, int seed, int workers)
    {
        private readonly LogicalClock _clock = new();
        private readonly int[] _cost = new int[records];
        private readonly long[] _begin = new long[records];
        private readonly long[] _accepted = new long[records];
        private readonly long[] _position = new long[records];
        private readonly OutcomeTally _tally = new(records);
        private readonly ConcurrentQueue<int[]> _batches = new();
        private int _calls;
        private long _paddedCost, _realCost, _lone;
        private readonly long[] _perBucket = new long[Bounds.Length + 1];

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 3L + 11;

        public async ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<Item> batch, CancellationToken token)
        {
            int call = Interlocked.Increment(ref _calls);
            var ids = new int[batch.Count];
            var results = new long[batch.Count];
            int bucket = BucketOf(batch[0].Cost), max = 0;
            long sum = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                var item = batch[i];
                ids[i] = item.Id;
                results[i] = ResultOf(item.Id);
                max = Math.Max(max, item.Cost);
                sum += item.Cost;
                if (Interlocked.Exchange(ref _position[item.Id], (long)call * 64 + i) != 0)
                {
                    Violations.Add($"record {item.Id} is in two batches");
                }

                if (BucketOf(item.Cost) != bucket)
                {
                    Violations.Add($"call {call}: record {item.Id} of cost {item.Cost} (bucket {BucketOf(item.Cost)}) in a batch of bucket {bucket}");
                }
            }

            long padded = (long)max * batch.Count + PerBatchCost;
            Interlocked.Add(ref _paddedCost, padded);
            Interlocked.Add(ref _realCost, sum);
            Interlocked.Increment(ref _perBucket[bucket]);
            if (batch.Count > MaxBatch)
            {
                Violations.Add($"call {call} holds {batch.Count} records (max {MaxBatch})");
            }

            if (batch.Count == 1)
            {
                Interlocked.Increment(ref _lone);
            }
            else if (padded > Target)
            {
                Violations.Add($"call {call}: {batch.Count} records × {max} + {PerBatchCost} = {padded} > target {Target}");
            }

            _batches.Enqueue(ids);
            uint roll = (uint)HashCode.Combine(seed, call) % 100;
            if (roll < 20)
            {
                await Task.Delay(1); // a slow batch: records queue up and batches fill
            }

            return roll is >= 20 and < 22 ? throw new BatchFault() : results;
        }

        public async Task SubmitAndObserve(DynamicBatcher<Item, long> batcher, int id, Random random)
        {
            int roll = random.Next(100);
            int cost = roll switch
            {
                < 1 => 0,
                < 46 => random.Next(1, 17),
                < 76 => random.Next(17, 65),
                < 93 => random.Next(65, 257),
                _ => random.Next(257, 1_500), // long; above 1,008 no second record fits
            };
            _cost[id] = cost;
            _begin[id] = _clock.Tick();
            var task = batcher.SubmitAsync(new Item(id, cost), cost);
            _accepted[id] = StressKit.AcceptedAtOnce(task) ? _clock.Tick() : long.MaxValue;
            await _tally.Await(task, id, ResultOf(id), Violations);
        }

        public string Verify(BatchStats stats, ReasonCounter observer)
        {
            for (int id = 0; id < records; id++)
            {
                if (_tally.CompletionsOf(id) != 1)
                {
                    Violations.Add($"record {id} completed {_tally.CompletionsOf(id)} times");
                }
            }

            Violations.Expect("submitted", records, stats.TotalSubmitted);
            Violations.Expect("outcomes", records, _tally.Results + _tally.Faults);
            Violations.Expect("failed", _tally.Faults, stats.TotalFailed);
            Violations.Expect("TotalBatchCost = the padded costs of the batches", _paddedCost, stats.TotalBatchCost);
            StressKit.CheckStats(Violations, stats, observer);

            long fifoChecked = 0;
            if (workers == 1)
            {
                for (int bucket = 0; bucket <= Bounds.Length; bucket++)
                {
                    int b = bucket;
                    fifoChecked += StressKit.CheckAcceptanceOrder(Violations, $"bucket {bucket}",
                        [.. Enumerable.Range(0, records).Where(id => BucketOf(_cost[id]) == b)
                            .Select(id => (_accepted[id], _begin[id], _position[id], id))]);
                }
            }
            else
            {
                foreach (var batch in _batches)
                {
                    fifoChecked += StressKit.CheckAcceptanceOrder(Violations, "within a batch",
                        [.. batch.Select(id => (_accepted[id], _begin[id], _position[id], id))]);
                }
            }

            if (_lone == 0 || _perBucket.Any(n => n == 0) || _tally.Faults == 0 || fifoChecked == 0)
            {
                Violations.Add("a behaviour was never exercised: the run was too small");
            }

            return $"  {StressKit.Reasons(stats)}; batches per bucket {string.Join(", ", _perBucket.Select(n => n.ToString("N0")))}, " +
                $"{_lone:N0} of a lone record\n" +
                $"  padded cost {_paddedCost:N0} for a real cost of {_realCost:N0} (padding waste {(double)_paddedCost / Math.Max(1, _realCost):F2}x, " +
                $"per-batch cost included); {_tally.Results:N0} results, {_tally.Faults:N0} batch faults; FIFO checked on {fifoChecked:N0} records";
        }
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using LowLatencyBatcher.Tests;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// Live reconfiguration under load: while 48 producers submit records of random costs (zero and over-budget ones
/// included), a thread keeps calling <c>Reconfigure</c> with random valid targets, batch sizes, timeouts, cost models
/// and per-batch costs, and now and then with an invalid configuration.
/// </summary>
/// <remarks>
/// <para>A batch is packed by the configuration in force when its first record was packed. Configurations are numbered;
/// the changer stamps "pending n" before <c>Reconfigure</c> and "applied n" after it returns. A record reads "applied"
/// before its submit; the process function reads "pending" as its call starts. So the batch's configuration is
/// numbered between the smallest "applied" its records read and the "pending" its call read.</para>
/// <para>Rules: each batch obeys (size at most <c>MaxBatchSize</c>; cost under that configuration's model within its
/// target, unless the batch holds a lone record) at least one configuration of that range; every record completes
/// exactly once with its own result or its batch's fault; an invalid configuration is refused with the message the
/// constructor gives, and a refused one never takes effect (it is outside every range).</para>
/// </remarks>
public class ReconfigureStressTests(ITestOutputHelper output)
{
    private const int Producers = 48;
    private const int Window = 4;

    [Theory]
    [InlineData(2, 80_000, 61)]
    [InlineData(1, 60_000, 62)]
    public async Task EveryBatchObeysAConfigurationInForceAndEveryRecordCompletesOnce(int workers, int records, int seed)
    {
        var run = new Run(records, seed, workers);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<Run.Item, long>(run.ProcessAsync, run.Options(run.Configs[0], observer));
        var clock = Stopwatch.StartNew();
        await batcher.StartAsync();
        using var stop = new CancellationTokenSource();
        var changer = Task.Run(() => run.ChangeAsync(batcher, observer, stop.Token));
        await StressKit.RunProducers(Producers, records, Window, seed, (_, id, _, random) => run.SubmitAndObserve(batcher, id, random), "the producers");
        stop.Cancel();
        await changer.Within(Bounded.Soon, "the configuration changer");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        string summary = run.Verify(stats, observer);
        output.WriteLine($"workers {workers}: {records:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(summary);
        run.Violations.AssertNone();
    }

    private sealed class Run(int records, int seed, int workers)
    {
        public sealed record Item(int Id, int Cost);

        public sealed record Config(int Target, int Max, int Min, int TimeoutMs, CostModel Model, int PerBatch)
        {
            public long CostOf(int count, long sum, int max) =>
                (Model == CostModel.Padded ? (long)max * count : sum) + PerBatch;

            public bool Admits(int count, long sum, int max) => count <= Max && (count == 1 || CostOf(count, sum, max) <= Target);
        }

        private readonly OutcomeTally _tally = new(records);
        private readonly int[] _seen = new int[records];
        private readonly int[] _appliedBefore = new int[records];
        private int _pending, _applied, _calls;
        private long _refusedConfigs, _multiCandidate, _largestBatch, _overBudgetRecords, _zeroCost;

        public List<Config> Configs { get; } = [new(500, 32, 1, 2, CostModel.Sum, 0)];

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 19L + 3;

        public DynamicBatcherOptions<Item> Options(Config c, IBatchObserver observer, int? workersOverride = null) => new()
        {
            Workers = workersOverride ?? workers,
            PrefetchBatches = 2,
            MaxQueueSize = 256,
            TargetBatchCost = c.Target,
            MaxBatchSize = c.Max,
            MinBatchSize = c.Min,
            BatchTimeout = TimeSpan.FromMilliseconds(c.TimeoutMs),
            CostModel = c.Model,
            PerBatchCost = c.PerBatch,
            Observer = observer,
        };

        public async Task ChangeAsync(DynamicBatcher<Item, long> batcher, IBatchObserver observer, CancellationToken stop)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                if (random.Next(20) == 0)
                {
                    TryInvalid(batcher, observer, random);
                }
                else
                {
                    int max = random.Next(1, 65);
                    var config = new Config(
                        random.Next(50, 2_001), max, random.Next(1, max + 1), random.Next(1, 6),
                        random.Next(2) == 0 ? CostModel.Sum : CostModel.Padded, random.Next(3) == 0 ? random.Next(0, 40) : 0);
                    lock (Configs)
                    {
                        Configs.Add(config);
                    }

                    int number = Configs.Count - 1;
                    Volatile.Write(ref _pending, number);
                    batcher.Reconfigure(Options(config, observer));
                    Volatile.Write(ref _applied, number);
                }

                if (random.Next(4) == 0)
                {
                    await Task.Delay(1);
                }
                else
                {
                    await Task.Yield();
                }
            }
        }

        public async ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<Item> batch, CancellationToken token)
        {
            int call = Interlocked.Increment(ref _calls);
            int hi = Volatile.Read(ref _pending);
            int lo = int.MaxValue, max = 0;
            long sum = 0;
            var results = new long[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                var item = batch[i];
                if (Interlocked.Increment(ref _seen[item.Id]) != 1)
                {
                    Violations.Add($"record {item.Id} reached the process function twice");
                }

                lo = Math.Min(lo, _appliedBefore[item.Id]);
                sum += item.Cost;
                max = Math.Max(max, item.Cost);
                results[i] = ResultOf(item.Id);
            }

            Atomically.Max(ref _largestBatch, (long)batch.Count);
            Config[] candidates;
            lock (Configs)
            {
                candidates = [.. Configs.Skip(lo).Take(hi - lo + 1)];
            }

            if (candidates.Length > 1)
            {
                Interlocked.Increment(ref _multiCandidate);
            }

            if (!candidates.Any(c => c.Admits(batch.Count, sum, max)))
            {
                Violations.Add($"call {call}: {batch.Count} records (sum {sum}, max {max}) obey none of configurations " +
                    $"{lo}..{hi}: {string.Join("; ", candidates.Take(4))}");
            }

            uint roll = (uint)HashCode.Combine(seed, call) % 100;
            if (roll < 5)
            {
                await Task.Delay(1);
            }

            return roll is >= 5 and < 7 ? throw new BatchFault() : results;
        }

        public async Task SubmitAndObserve(DynamicBatcher<Item, long> batcher, int id, Random random)
        {
            int roll = random.Next(100);
            int cost = roll < 5 ? 0 : roll < 8 ? random.Next(2_001, 4_000) : random.Next(1, 200);
            if (cost == 0)
            {
                Interlocked.Increment(ref _zeroCost);
            }
            else if (cost > 2_000)
            {
                Interlocked.Increment(ref _overBudgetRecords);
            }

            _appliedBefore[id] = Volatile.Read(ref _applied);
            var task = batcher.SubmitAsync(new Item(id, cost), cost);
            await _tally.Await(task, id, ResultOf(id), Violations);
        }

        public string Verify(BatchStats stats, ReasonCounter observer)
        {
            for (int id = 0; id < records; id++)
            {
                if (_tally.CompletionsOf(id) != 1 || _seen[id] != 1)
                {
                    Violations.Add($"record {id} completed {_tally.CompletionsOf(id)} times, was seen {_seen[id]} times");
                }
            }

            Violations.Expect("submitted", records, stats.TotalSubmitted);
            Violations.Expect("outcomes", records, _tally.Results + _tally.Faults);
            Violations.Expect("failed", _tally.Faults, stats.TotalFailed);
            StressKit.CheckStats(Violations, stats, observer);
            int largestMax = Configs.Max(c => c.Max);
            if (_largestBatch > largestMax)
            {
                Violations.Add($"a batch of {_largestBatch} records; the largest MaxBatchSize ever configured is {largestMax}");
            }

            if (Configs.Count < 50 || _refusedConfigs == 0 || _multiCandidate == 0 || _tally.Faults == 0 || _zeroCost == 0 || _overBudgetRecords == 0)
            {
                Violations.Add("a behaviour was never exercised: the run was too small");
            }

            return $"  {StressKit.Reasons(stats)}\n  {Configs.Count - 1:N0} reconfigurations applied, {_refusedConfigs:N0} invalid ones " +
                $"refused; {_multiCandidate:N0} batches overlapped a change (several candidate configurations); largest batch " +
                $"{_largestBatch} (largest MaxBatchSize {largestMax}); {_tally.Results:N0} results, {_tally.Faults:N0} batch faults";
        }

        /// <summary>An invalid configuration: refused, with the constructor's message for the same options.</summary>
        private void TryInvalid(DynamicBatcher<Item, long> batcher, IBatchObserver observer, Random random)
        {
            var valid = Configs[^1];
            var options = random.Next(3) switch
            {
                0 => Options(valid with { Min = valid.Max + 1 }, observer),
                1 => Options(valid with { Target = -random.Next(0, 10) }, observer),
                _ => Options(valid, observer, workersOverride: workers + 1),
            };
            string? expected = null;
            try
            {
                _ = new DynamicBatcher<Item, long>(ProcessAsync, options);
            }
            catch (ArgumentException e)
            {
                expected = e.Message;
            }

            try
            {
                batcher.Reconfigure(options);
                Violations.Add($"an invalid configuration was accepted (workers {options.Workers}, min {options.MinBatchSize}, " +
                    $"max {options.MaxBatchSize}, target {options.TargetBatchCost})");
            }
            catch (ArgumentException e)
            {
                Interlocked.Increment(ref _refusedConfigs);
                if (expected is not null && e.Message != expected)
                {
                    Violations.Add($"Reconfigure refused with \"{e.Message}\"; the constructor says \"{expected}\"");
                }
            }
        }
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// <c>QueueFullMode.Reject</c> under load: 48 producers keep 4 submits each in flight against a queue of 16 records
/// (per lane), so most attempts find it full. A tenth of the attempts use <c>TrySubmit</c>.
/// </summary>
/// <remarks>
/// Rules: a refused <c>SubmitAsync</c> throws <see cref="QueueFullException"/> at once (naming the queue's limit) and
/// never waits; a refused record (either way) never reaches the process function; an accepted one completes exactly
/// once with its own result or its batch's fault, never with a queue-full error; <c>TotalSubmitted</c> is exactly the
/// number of accepted records, and every one of them completed.
/// </remarks>
public class QueueFullStressTests(ITestOutputHelper output)
{
    private const int Producers = 48;
    private const int Window = 4;
    private const int Queue = 16;

    [Theory]
    [InlineData(1, 1, 40_000, 51)]
    [InlineData(2, 2, 40_000, 52)]
    public async Task RefusedSubmitsNeverReachABatchAndAcceptedOnesCompleteOnce(int workers, int lanes, int records, int seed)
    {
        var run = new Run(records, seed);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<int, long>(
            run.ProcessAsync,
            new DynamicBatcherOptions<int>
            {
                Workers = workers,
                PrefetchBatches = 1,
                MaxBatchSize = 8,
                MinBatchSize = 1,
                TargetBatchCost = 100_000,
                MaxQueueSize = Queue,
                QueueFullMode = QueueFullMode.Reject,
                PriorityLanes = lanes,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
                Observer = observer,
            });
        var clock = Stopwatch.StartNew();
        await batcher.StartAsync();
        await StressKit.RunProducers(
            Producers, records, Window, seed, (_, id, _, random) => run.SubmitAndObserve(batcher, id, random, lanes), "the producers");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        run.Verify(stats, observer);
        output.WriteLine($"workers {workers}, lanes {lanes}, queue {Queue}: {records:N0} attempts in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(run.Summary(stats));
        run.Violations.AssertNone();
    }

    private sealed class Run(int records, int seed)
    {
        private readonly bool[] _refused = new bool[records];
        private readonly int[] _seen = new int[records];
        private readonly OutcomeTally _tally = new(records);
        private int _calls;
        private long _accepted, _refusedSubmits, _refusedTries;

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 17L + 5;

        public async ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<int> batch, CancellationToken token)
        {
            int call = Interlocked.Increment(ref _calls);
            var results = new long[batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                int id = batch[i];
                if (Interlocked.Increment(ref _seen[id]) != 1)
                {
                    Violations.Add($"record {id} reached the process function twice");
                }

                if (Volatile.Read(ref _refused[id]))
                {
                    Violations.Add($"record {id} was refused, yet reached the process function");
                }

                results[i] = ResultOf(id);
            }

            uint roll = (uint)HashCode.Combine(seed, call) % 100;
            if (roll < 10)
            {
                await Task.Delay(1);
            }

            return roll is >= 10 and < 12 ? throw new BatchFault() : results;
        }

        public async Task SubmitAndObserve(DynamicBatcher<int, long> batcher, int id, Random random, int lanes)
        {
            ValueTask<long> task;
            if (random.Next(10) == 0)
            {
                if (!batcher.TrySubmit(id, out task))
                {
                    Refuse(id, ref _refusedTries);
                    return;
                }
            }
            else
            {
                try
                {
                    task = batcher.SubmitAsync(id, new SubmitOptions { Priority = random.Next(lanes) });
                }
                catch (QueueFullException e)
                {
                    if (e.MaxQueueSize != Queue)
                    {
                        Violations.Add($"record {id}: the refusal names a queue of {e.MaxQueueSize}");
                    }

                    Refuse(id, ref _refusedSubmits);
                    return;
                }

                if (!StressKit.AcceptedAtOnce(task))
                {
                    Violations.Add($"record {id}: the submit returned without accepting or refusing it (it waits for room)");
                }
            }

            Interlocked.Increment(ref _accepted);
            await _tally.Await(task, id, ResultOf(id), Violations, "accepted record");
        }

        public void Verify(BatchStats stats, ReasonCounter observer)
        {
            for (int id = 0; id < records; id++)
            {
                int expected = _refused[id] ? 0 : 1;
                if (_tally.CompletionsOf(id) != expected || _seen[id] != expected)
                {
                    Violations.Add($"record {id} ({(_refused[id] ? "refused" : "accepted")}) completed {_tally.CompletionsOf(id)} times, " +
                        $"was seen {_seen[id]} times");
                }
            }

            Violations.Expect("TotalSubmitted = accepted", _accepted, stats.TotalSubmitted);
            Violations.Expect("attempts", records, _accepted + _refusedSubmits + _refusedTries);
            Violations.Expect("outcomes of accepted records", _accepted, _tally.Results + _tally.Faults);
            Violations.Expect("failed", _tally.Faults, stats.TotalFailed);
            Violations.Expect("records in observed batches", _accepted, observer.Records);
            StressKit.CheckStats(Violations, stats, observer);
            if (_refusedSubmits == 0 || _refusedTries == 0 || _accepted == 0 || _tally.Faults == 0)
            {
                Violations.Add("a behaviour was never exercised: the run was too small");
            }
        }

        public string Summary(BatchStats stats) =>
            $"  {StressKit.Reasons(stats)}\n  {_accepted:N0} accepted ({_tally.Results:N0} results, {_tally.Faults:N0} batch faults), " +
            $"{_refusedSubmits:N0} submits refused with QueueFullException, {_refusedTries:N0} TrySubmit refusals";

        private void Refuse(int id, ref long counter)
        {
            Volatile.Write(ref _refused[id], true);
            Interlocked.Increment(ref counter);
        }
    }
}

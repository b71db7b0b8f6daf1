using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// Deadlines under load: a slow worker keeps records queued while 32 producers submit with random per-submit
/// timeouts (1-40 ms), the batcher's <c>DefaultTimeout</c> or none, a few caller cancellations racing the deadlines,
/// and batches that throw.
/// </summary>
/// <remarks>
/// Rules: every record completes exactly once; a record that completed with the batcher's
/// <see cref="TimeoutException"/> never reached the process function, and a record that reached it never times out;
/// only a record with a timeout (its own or the default) times out, and never before that timeout has passed, less
/// <see cref="TimerSlack"/>: .NET timers on Linux run on the kernel's coarse monotonic clock (4 ms ticks on the
/// development machine), so a deadline may fire up to one such tick early against the precise clock the test reads
/// (measured: up to 2.5 ms early); <c>TotalTimedOut</c>, <c>TotalCancelled</c> and <c>TotalFailed</c> equal
/// what the callers saw.
/// </remarks>
public class DeadlineStressTests(ITestOutputHelper output)
{
    private const int Producers = 32;
    private const int Window = 4;

    /// <summary>How early a deadline may fire against the precise clock: one coarse-clock tick (4 ms) plus 1 ms.</summary>
    private const double TimerSlack = 0.005;

    [Theory]
    [InlineData(1, 1, 15, 30_000, 21)]
    [InlineData(2, 2, 0, 30_000, 22)] // no default timeout; two priority lanes
    public async Task ATimedOutRecordNeverReachesTheProcessFunction(int workers, int lanes, int defaultTimeoutMs, int records, int seed)
    {
        TimeSpan? defaultTimeout = defaultTimeoutMs > 0 ? TimeSpan.FromMilliseconds(defaultTimeoutMs) : null;
        var run = new Run(records, seed, defaultTimeout);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<int, long>(
            run.ProcessAsync,
            new DynamicBatcherOptions<int>
            {
                Workers = workers,
                PrefetchBatches = 1,
                MaxBatchSize = 16,
                MinBatchSize = 1,
                TargetBatchCost = 100_000,
                MaxQueueSize = 512,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
                DefaultTimeout = defaultTimeout,
                PriorityLanes = lanes,
                PriorityAging = TimeSpan.FromMilliseconds(20),
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
        output.WriteLine($"workers {workers}, lanes {lanes}, default timeout {defaultTimeoutMs} ms: {records:N0} records in " +
            $"{clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(run.Summary(stats));
        run.Violations.AssertNone();
    }

    private sealed class BatchFault() : Exception("injected batch fault");

    private sealed class Run(int records, int seed, TimeSpan? defaultTimeout)
    {
        private readonly int[] _seen = new int[records];
        private readonly int[] _outcomes = new int[records];
        private readonly bool[] _timedOut = new bool[records];
        private readonly bool[] _hasTimeout = new bool[records];
        private long _cancellableThatWaited;
        private int _calls;
        private long _results, _timeouts, _cancelled, _faults, _processedWithTimeout, _ownTimeouts, _defaultTimeouts;
        private long _minMarginTicks = long.MaxValue;

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 13L + 1;

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

                if (Volatile.Read(ref _timedOut[id]))
                {
                    Violations.Add($"record {id} reached the process function after it timed out");
                }

                results[i] = ResultOf(id);
            }

            if (call % 3 != 0)
            {
                await Task.Delay(1); // a slow worker: records queue up and their deadlines pass
            }

            return (uint)HashCode.Combine(seed, call) % 100 < 2 ? throw new BatchFault() : results;
        }

        public async Task SubmitAndObserve(DynamicBatcher<int, long> batcher, int id, Random random, int lanes)
        {
            int roll = random.Next(100);
            TimeSpan? own = roll < 10 ? TimeSpan.FromMilliseconds(1)
                : roll < 40 ? TimeSpan.FromMilliseconds(random.Next(2, 41))
                : null;
            var timeout = own ?? defaultTimeout;
            _hasTimeout[id] = timeout is not null;
            CancellationTokenSource? source = random.Next(100) < 3 ? new CancellationTokenSource() : null;
            long begin = Stopwatch.GetTimestamp();
            var task = batcher.SubmitAsync(
                id, new SubmitOptions { Timeout = own, Priority = random.Next(lanes) }, source?.Token ?? default);
            if (source is not null)
            {
                if (!StressKit.AcceptedAtOnce(task))
                {
                    Interlocked.Increment(ref _cancellableThatWaited); // may be refused while it waits for room
                }

                if (random.Next(2) == 0)
                {
                    source.Cancel();
                }
                else
                {
                    source.CancelAfter(random.Next(1, 20));
                }
            }

            try
            {
                long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
                Interlocked.Increment(ref _results);
                if (value != ResultOf(id))
                {
                    Violations.Add($"record {id} got {value}, not its result");
                }

                if (timeout is not null)
                {
                    Interlocked.Increment(ref _processedWithTimeout);
                }
            }
            catch (TimeoutException e) when (e.Message.StartsWith("The record was not handed", StringComparison.Ordinal))
            {
                long elapsed = Stopwatch.GetTimestamp() - begin;
                Volatile.Write(ref _timedOut[id], true);
                Interlocked.Increment(ref _timeouts);
                if (own is null)
                {
                    Interlocked.Increment(ref _defaultTimeouts);
                }
                else
                {
                    Interlocked.Increment(ref _ownTimeouts);
                }

                if (timeout is not { } limit)
                {
                    Violations.Add($"record {id} timed out without a timeout: {e.Message}");
                }
                else
                {
                    long margin = elapsed - (long)((limit.TotalSeconds - TimerSlack) * Stopwatch.Frequency);
                    InterlockedMin(ref _minMarginTicks, margin);
                    if (margin < 0)
                    {
                        Violations.Add($"record {id} timed out after {elapsed * 1000.0 / Stopwatch.Frequency:F2} ms, " +
                            $"before its timeout of {limit.TotalMilliseconds} ms");
                    }
                }
            }
            catch (BatchFault)
            {
                Interlocked.Increment(ref _faults);
            }
            catch (OperationCanceledException e)
            {
                Interlocked.Increment(ref _cancelled);
                if (source is null || e.CancellationToken != source.Token)
                {
                    Violations.Add($"record {id} was cancelled by a token not its own");
                }
            }
            catch (Exception e)
            {
                Violations.Add($"record {id} failed with an unexpected {e.GetType().Name}: {e.Message}");
            }

            Interlocked.Increment(ref _outcomes[id]);
        }

        public void Verify(BatchStats stats, ReasonCounter observer)
        {
            for (int id = 0; id < records; id++)
            {
                if (_outcomes[id] != 1)
                {
                    Violations.Add($"record {id} completed {_outcomes[id]} times");
                }

                if (_timedOut[id] && _seen[id] != 0)
                {
                    Violations.Add($"record {id} timed out, yet the process function saw it");
                }
            }

            // A cancellable submit that waited for room (timed-out records keep their place in the queue until the packing
            // thread reaches them) may be refused by its cancellation: the caller sees it, the batcher never counted it.
            long refusedWhileWaiting = _cancelled - stats.TotalCancelled;
            if (refusedWhileWaiting < 0 || refusedWhileWaiting > _cancellableThatWaited)
            {
                Violations.Add($"{_cancelled:N0} cancellations seen, {stats.TotalCancelled:N0} counted, but only " +
                    $"{_cancellableThatWaited:N0} cancellable submits waited for room");
            }

            Violations.Expect("submitted = records less those refused while waiting", records - refusedWhileWaiting, stats.TotalSubmitted);
            Violations.Expect("outcomes", records, _results + _timeouts + _cancelled + _faults);
            Violations.Expect("TotalTimedOut = timeouts seen", _timeouts, stats.TotalTimedOut);
            Violations.Expect("TotalFailed = batch faults seen", _faults, stats.TotalFailed);
            StressKit.CheckStats(Violations, stats, observer);
            if (_ownTimeouts == 0 || _processedWithTimeout == 0 || _cancelled == 0 || _faults == 0
                || (defaultTimeout is not null && _defaultTimeouts == 0))
            {
                Violations.Add("a behaviour was never exercised: the run was too small");
            }
        }

        public string Summary(BatchStats stats) =>
            $"  {StressKit.Reasons(stats)}\n" +
            $"  outcomes: {_results:N0} results ({_processedWithTimeout:N0} of records with a timeout), {_timeouts:N0} timed out " +
            $"({_ownTimeouts:N0} own timeout, {_defaultTimeouts:N0} default), {_cancelled:N0} cancelled ({_cancelled - stats.TotalCancelled:N0} while waiting for room), " +
            $"{_faults:N0} batch faults; " +
            $"earliest timeout {(_minMarginTicks == long.MaxValue ? 0 : _minMarginTicks * 1000.0 / Stopwatch.Frequency - TimerSlack * 1000):F2} ms after its limit";

        private static void InterlockedMin(ref long target, long value)
        {
            long seen = Volatile.Read(ref target);
            while (value < seen)
            {
                long previous = Interlocked.CompareExchange(ref target, value, seen);
                if (previous == seen)
                {
                    return;
                }

                seen = previous;
            }
        }
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Reliability.Tests.Support;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Reliability.Tests.Stress;

/// <summary>
/// A <see cref="ProcessEachFn{TRecord, TResult}"/> under load that sets results, fails single records, leaves some
/// records without an outcome, and throws midway (synchronously or from an awaited task), with and without
/// <c>IsolateFailures</c>. Every call is logged per record, and every outcome is checked against what the function did
/// to that record in the last call that saw it.
/// </summary>
/// <remarks>
/// <para>Each record has a fixed kind (a hash of its id): good (the function sets its result), failing (the function
/// gives it its own exception), unset (the function leaves it alone) or poison (the function throws when it reaches
/// it: the records before it in the call have their outcomes, those after it have none). Besides, 3% of calls throw
/// at a random point whatever they hold, and 4% set their outcomes from two threads at once.</para>
/// <para>Rules: every record completes exactly once; a result is its own and was set in its last call; a per-record
/// exception is its own; the "without an outcome" error goes only to a record its last call left alone and that call
/// did not throw; a call's exception goes only to a record its last call did not settle, and that call threw it. With
/// isolation, a record that gets a call's exception was alone in that call, and a record settled by a call is never
/// seen again. Without isolation, every record is seen by exactly one call.</para>
/// </remarks>
public class PerRecordOutcomeStressTests(ITestOutputHelper output)
{
    private const int Producers = 32;
    private const int Window = 4;

    private enum Kind : byte
    {
        Good,
        Failing,
        Unset,
        Poison,
    }

    private enum Action : byte
    {
        None, // not reached: the call threw before it
        SetResult,
        SetException,
        LeftAlone,
    }

    [Theory]
    [InlineData(false, 2, 64, 60_000, 11)]
    [InlineData(true, 2, 64, 60_000, 12)]
    [InlineData(true, 3, 16, 40_000, 13)]
    public async Task EveryRecordGetsTheOutcomeItsLastCallGaveIt(bool isolate, int workers, int maxBatch, int records, int seed)
    {
        var run = new Run(records, seed, isolate);
        var observer = new ReasonCounter();
        var batcher = new DynamicBatcher<int, long>(
            run.Process,
            new DynamicBatcherOptions<int>
            {
                Workers = workers,
                PrefetchBatches = 2,
                MaxBatchSize = maxBatch,
                MinBatchSize = 1,
                TargetBatchCost = 100_000,
                MaxQueueSize = 256,
                BatchTimeout = TimeSpan.FromMilliseconds(2),
                IsolateFailures = isolate,
                Observer = observer,
            });
        var clock = Stopwatch.StartNew();
        await batcher.StartAsync();
        await StressKit.RunProducers(Producers, records, Window, seed, (_, id, _, _) => run.SubmitAndObserve(batcher, id), "the producers");
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        var stats = batcher.Stats;
        await batcher.DisposeAsync().AsTask().Within(Bounded.Soon, "DisposeAsync");

        run.Verify(stats, observer);
        output.WriteLine($"isolate {isolate}, workers {workers}, max {maxBatch}: {records:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(run.Summary(stats));
        run.Violations.AssertNone();
    }

    /// <summary>
    /// The isolation rule for the smallest case the stress run hits: a call of several records settles all of them
    /// but one, then throws once (a transient failure). The one record left never failed in a call of its own, so it
    /// must be retried alone, as two records left would be retried in halves.
    /// </summary>
    [Theory]
    [InlineData(1)] // one record left without an outcome
    [InlineData(2)] // two records left (retried in halves)
    public async Task IsolationRetriesTheRecordsAFailingCallLeftWithoutAnOutcome(int left)
    {
        int calls = 0;
        var sizes = new System.Collections.Concurrent.ConcurrentQueue<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                sizes.Enqueue(batch.Count);
                bool first = Interlocked.Increment(ref calls) == 1;
                for (int i = 0; i < batch.Count; i++)
                {
                    if (first && i >= batch.Count - left)
                    {
                        throw new InvalidDataException("transient failure of the first call");
                    }

                    batch.SetResult(i, batch[i] * 10);
                }

                return ValueTask.CompletedTask;
            },
            new DynamicBatcherOptions<int> { MinBatchSize = 4, MaxBatchSize = 4, IsolateFailures = true, BatchTimeout = TimeSpan.FromSeconds(30) });
        await batcher.StartAsync();
        var tasks = Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        var outcomes = new List<string>();
        foreach (var task in tasks)
        {
            try
            {
                outcomes.Add((await task.Within(Bounded.Soon, "a record")).ToString());
            }
            catch (InvalidDataException)
            {
                outcomes.Add("failed");
            }
        }

        Assert.Equal(4, sizes.First());
        Assert.Equal(["10", "20", "30", "40"], outcomes); // every record's last call held only it, or succeeded
    }

    /// <summary>
    /// The observer's report of a batch that isolation retried in parts still describes the whole batch: all its
    /// records and one submit timestamp per record.
    /// </summary>
    [Fact]
    public async Task TheObserverReportsEveryRecordOfABatchThatIsolationRetried()
    {
        var reports = new System.Collections.Concurrent.ConcurrentQueue<(int Records, int Timestamps)>();
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => batch.Contains(4) ? throw new InvalidDataException("poison") : ValueTask.FromResult(batch),
            new DynamicBatcherOptions<int>
            {
                MinBatchSize = 4, MaxBatchSize = 4, IsolateFailures = true, BatchTimeout = TimeSpan.FromSeconds(30),
                Observer = new ReportLog(reports),
            });
        await batcher.StartAsync();
        var tasks = Enumerable.Range(1, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await Assert.ThrowsAsync<InvalidDataException>(() => tasks[3].Within(Bounded.Soon, "the poison record"));
        await batcher.StopAsync().Within(Bounded.Soon, "StopAsync");
        Assert.Equal(4, batcher.Stats.TotalBatches == 1 ? (int)batcher.Stats.AvgBatchSize : -1);
        Assert.Equal((4, 4), Assert.Single(reports));
    }

    private sealed class ReportLog(System.Collections.Concurrent.ConcurrentQueue<(int, int)> reports) : IBatchObserver
    {
        public void OnBatchCompleted(in BatchReport report) => reports.Enqueue((report.Records, report.SubmitTimestamps.Length));
    }

    private sealed class CallFault(int call) : Exception($"call {call} failed")
    {
        public int Call { get; } = call;
    }

    private sealed class RecordFault(int id) : Exception($"record {id} failed alone")
    {
        public int Id { get; } = id;
    }

    private sealed class Run(int records, int seed, bool isolate)
    {
        private readonly int[] _lastCall = new int[records];
        private readonly int[] _lastCallSize = new int[records];
        private readonly int[] _calls = new int[records];
        private readonly Action[] _lastAction = new Action[records];
        private readonly int[] _outcomes = new int[records];
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Exception> _thrown = new();
        private int _callIds;
        private long _results, _recordFaults, _unsetErrors, _callFaults, _callFaultsAlone, _doubleSetRefused;
        private long _poisonCalls, _randomThrows, _asyncCalls, _parallelCalls, _retriedRecords, _firstCallRecords;

        public Violations Violations { get; } = new();

        public static long ResultOf(int id) => id * 31L + 7;

        public ValueTask Process(IRecordBatch<int, long> batch, CancellationToken token)
        {
            int call = Interlocked.Increment(ref _callIds);
            int count = batch.Count;
            for (int i = 0; i < count; i++)
            {
                int id = batch[i];
                if (_calls[id]++ == 0)
                {
                    Interlocked.Increment(ref _firstCallRecords);
                }
                else
                {
                    Interlocked.Increment(ref _retriedRecords);
                    // Seen again: only allowed when isolating, and only for a record its previous call threw without settling.
                    if (!isolate)
                    {
                        Violations.Add($"record {id} seen by call {call} after call {_lastCall[id]} without isolation");
                    }
                    else if (!_thrown.ContainsKey(_lastCall[id]) || _lastAction[id] is Action.SetResult or Action.SetException)
                    {
                        Violations.Add($"record {id} retried in call {call} though call {_lastCall[id]} " +
                            $"{(_thrown.ContainsKey(_lastCall[id]) ? "gave it" : "did not throw; it did")} {_lastAction[id]}");
                    }
                }

                _lastCall[id] = call;
                _lastCallSize[id] = count;
                _lastAction[id] = Action.None;
            }

            uint roll = (uint)HashCode.Combine(seed, call, 3) % 100;
            int throwAt = roll < 3 ? (int)((uint)HashCode.Combine(seed, call, 5) % (uint)(count + 1)) : -1;
            if (throwAt >= 0)
            {
                Interlocked.Increment(ref _randomThrows);
            }

            if (roll is >= 3 and < 7 && count > 1)
            {
                Interlocked.Increment(ref _parallelCalls);
                return new ValueTask(ParallelAsync(batch, call, throwAt));
            }

            if (roll is >= 7 and < 17)
            {
                Interlocked.Increment(ref _asyncCalls);
                return SlowAsync(batch, call, throwAt);
            }

            Settle(batch, call, 0, count, throwAt); // a throw here leaves the delegate synchronously
            return ValueTask.CompletedTask;
        }

        public async Task SubmitAndObserve(DynamicBatcher<int, long> batcher, int id)
        {
            var task = batcher.SubmitAsync(id);
            try
            {
                long value = await task.AsTask().Within(Bounded.Soon, $"record {id}");
                Interlocked.Increment(ref _results);
                if (value != ResultOf(id) || _lastAction[id] != Action.SetResult)
                {
                    Violations.Add($"record {id} got {value}; its last call {_lastCall[id]} did {_lastAction[id]}");
                }
            }
            catch (RecordFault e)
            {
                Interlocked.Increment(ref _recordFaults);
                if (e.Id != id || _lastAction[id] != Action.SetException)
                {
                    Violations.Add($"record {id} got record {e.Id}'s own exception; its last call did {_lastAction[id]}");
                }
            }
            catch (CallFault e)
            {
                Interlocked.Increment(ref _callFaults);
                int last = _lastCall[id];
                if (e.Call != last || !_thrown.TryGetValue(last, out var thrown) || !ReferenceEquals(thrown, e)
                    || _lastAction[id] is Action.SetResult or Action.SetException)
                {
                    Violations.Add($"record {id} got the exception of call {e.Call}; its last call {last} did {_lastAction[id]}");
                }
                else if (_lastCallSize[id] == 1)
                {
                    Interlocked.Increment(ref _callFaultsAlone);
                }
                else if (isolate)
                {
                    Violations.Add($"isolation: record {id} got the exception of call {last}, which held {_lastCallSize[id]} " +
                        $"records (the function {(_lastAction[id] == Action.None ? "threw before reaching it" : "left it alone")})");
                }
            }
            catch (InvalidOperationException e) when (e.Message.Contains("without an outcome", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _unsetErrors);
                if (_lastAction[id] != Action.LeftAlone || _thrown.ContainsKey(_lastCall[id]))
                {
                    Violations.Add($"record {id} got the 'without an outcome' error; its last call {_lastCall[id]} did " +
                        $"{_lastAction[id]}{(_thrown.ContainsKey(_lastCall[id]) ? " and threw" : "")}");
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
            int seen = 0;
            for (int id = 0; id < records; id++)
            {
                if (_outcomes[id] != 1)
                {
                    Violations.Add($"record {id} completed {_outcomes[id]} times");
                }

                seen += _calls[id] > 0 ? 1 : 0;
            }

            Violations.Expect("records that reached the function", records, seen);
            Violations.Expect("submitted", records, stats.TotalSubmitted);
            Violations.Expect("outcomes", records, _results + _recordFaults + _unsetErrors + _callFaults);
            Violations.Expect("failed = own exceptions + call exceptions + unset errors",
                _recordFaults + _unsetErrors + _callFaults, stats.TotalFailed);
            Violations.Expect("cancelled", 0, stats.TotalCancelled);
            Violations.Expect("records in the batches the observer saw", records, observer.Records);
            StressKit.CheckStats(Violations, stats, observer);
            if (_recordFaults == 0 || _unsetErrors == 0 || _callFaults == 0 || _poisonCalls == 0 || _randomThrows == 0
                || _parallelCalls == 0 || _asyncCalls == 0 || _doubleSetRefused == 0 || (isolate && _retriedRecords == 0))
            {
                Violations.Add("a behaviour was never exercised: the run was too small");
            }
        }

        public string Summary(BatchStats stats) =>
            $"  {_callIds:N0} calls for {StressKit.Reasons(stats)}; {_retriedRecords:N0} record retries\n" +
            $"  outcomes: {_results:N0} results, {_recordFaults:N0} own exceptions, {_unsetErrors:N0} 'without an outcome', " +
            $"{_callFaults:N0} call exceptions ({_callFaultsAlone:N0} to a record alone in its call)\n" +
            $"  calls: {_poisonCalls:N0} hit a poison record, {_randomThrows:N0} threw at random, {_asyncCalls:N0} async, " +
            $"{_parallelCalls:N0} set outcomes from two threads; {_doubleSetRefused:N0} second outcomes refused";

        private Kind KindOf(int id) => ((uint)HashCode.Combine(seed, id, 1) % 1000) switch
        {
            < 60 => Kind.Failing,
            < 100 => Kind.Unset,
            < 115 => Kind.Poison,
            _ => Kind.Good,
        };

        private async ValueTask SlowAsync(IRecordBatch<int, long> batch, int call, int throwAt)
        {
            int half = batch.Count / 2;
            Settle(batch, call, 0, half, throwAt);
            await Task.Yield();
            Settle(batch, call, half, batch.Count, throwAt);
        }

        private async Task ParallelAsync(IRecordBatch<int, long> batch, int call, int throwAt)
        {
            int half = batch.Count / 2;
            var other = Task.Run(() => Settle(batch, call, half, batch.Count, -1, mayThrow: false));
            Exception? mine = null;
            try
            {
                Settle(batch, call, 0, half, throwAt);
            }
            catch (Exception e)
            {
                mine = e;
            }

            await other; // the second half never throws on purpose: a poison record there is skipped over
            if (mine is not null)
            {
                throw mine;
            }
        }

        /// <summary>Gives records [from, to) their outcomes in order; throws at <paramref name="throwAt"/> or at a poison record.</summary>
        private void Settle(IRecordBatch<int, long> batch, int call, int from, int to, int throwAt, bool mayThrow = true)
        {
            for (int i = from; i < to; i++)
            {
                int id = batch[i];
                if (i == throwAt)
                {
                    Throw(call);
                }

                switch (KindOf(id))
                {
                    case Kind.Poison when mayThrow:
                        Interlocked.Increment(ref _poisonCalls);
                        Throw(call);
                        break;
                    case Kind.Failing:
                        _lastAction[id] = Action.SetException;
                        batch.SetException(i, new RecordFault(id));
                        break;
                    case Kind.Unset:
                        _lastAction[id] = Action.LeftAlone;
                        break;
                    case Kind.Poison:
                        _lastAction[id] = Action.LeftAlone; // the half of a parallel call that never throws
                        break;
                    default:
                        _lastAction[id] = Action.SetResult;
                        batch.SetResult(i, ResultOf(id));
                        if (id % 97 == 0)
                        {
                            try
                            {
                                batch.SetResult(i, -1);
                                Violations.Add($"record {id}: a second outcome in call {call} was accepted");
                            }
                            catch (InvalidOperationException)
                            {
                                Interlocked.Increment(ref _doubleSetRefused);
                            }
                        }

                        break;
                }
            }
        }

        private void Throw(int call)
        {
            var fault = new CallFault(call);
            if (!_thrown.TryAdd(call, fault))
            {
                fault = (CallFault)_thrown[call];
            }

            throw fault;
        }
    }
}

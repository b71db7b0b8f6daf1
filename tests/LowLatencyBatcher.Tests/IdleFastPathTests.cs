using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>The idle fast path: a lone record at an idle batcher runs on its submitter's thread (rule 3, alone).</summary>
public class IdleFastPathTests
{
    private static ValueTask<IReadOnlyList<int>> Echo(IReadOnlyList<int> batch, CancellationToken token) =>
        ValueTask.FromResult<IReadOnlyList<int>>(batch.ToArray());

    private static async Task<DynamicBatcher<int, int>> StartIdleAsync(
        ProcessFn<int, int> process, DynamicBatcherOptions<int>? options = null)
    {
        var batcher = new DynamicBatcher<int, int>(process, options);
        await batcher.StartAsync();
        await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker parks");
        return batcher;
    }

    [Fact]
    public async Task ALoneRecordAtAnIdleBatcherCompletesBeforeSubmitReturnsWhenTheProcessFunctionIsSynchronous()
    {
        var observer = new CollectingObserver();
        await using var batcher = await StartIdleAsync(Echo, new DynamicBatcherOptions<int> { Observer = observer });

        var task = batcher.SubmitAsync(7);

        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(7, await task);
        var report = Assert.Single(observer.Reports);
        Assert.Equal(DispatchReason.Eager, report.Reason);
        Assert.Equal(1, report.Records);
        var stats = batcher.Stats;
        Assert.Equal(1, stats.TotalSubmitted);
        Assert.Equal(1, stats.TotalCompleted);
        Assert.Equal(1, stats.EagerBatches);
    }

    [Fact]
    public async Task AfterABurstThroughThePackingThreadALoneRecordRunsAloneAgain()
    {
        // Regression: the packing thread once counted a batch's records after handing it to a worker, which could
        // already have recycled it; the count of handed-off records then lagged for ever and the batcher never
        // looked idle again.
        var probe = new AloneProbe();
        await using var batcher = await StartIdleAsync((batch, token) => probe.Wrap(batch, token, Echo));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                Assert.Equal(i, await batcher.SubmitAsync(i));
            }
        }))).Bounded();

        bool ranAlone = false;
        for (int attempt = 0; attempt < 100 && !ranAlone; attempt++)
        {
            await Task.Delay(20); // past any back-off a slow run under the burst may have caused
            await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker parks");
            var task = probe.Submit(batcher, attempt, out ranAlone);
            Assert.Equal(attempt, await task.Bounded());
        }

        Assert.True(ranAlone);
    }

    [Fact]
    public async Task TheFastPathIsNotTakenWhenMinBatchSizeIsAboveOne()
    {
        var time = new FakeTimeProvider();
        await using var batcher = await StartIdleAsync(
            Echo, new DynamicBatcherOptions<int> { MinBatchSize = 2, BatchTimeout = TimeSpan.FromSeconds(1), TimeProvider = time });

        var task = batcher.SubmitAsync(1);

        Assert.False(task.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await task.Bounded());
        Assert.Equal(1, batcher.Stats.TimeoutBatches);
    }

    [Fact]
    public async Task TheFastPathIsNotTakenWhenRunAloneWhenIdleIsOff()
    {
        var probe = new AloneProbe();
        await using var batcher = await StartIdleAsync(
            (batch, token) => probe.Wrap(batch, token, Echo), new DynamicBatcherOptions<int> { RunAloneWhenIdle = false });
        int alone = 0;
        for (int i = 0; i < 20; i++)
        {
            await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker parks");
            var task = probe.Submit(batcher, i, out bool ranAlone);
            Assert.Equal(i, await task.Bounded());
            alone += ranAlone ? 1 : 0;
        }

        Assert.Equal(0, alone);
    }

    [Fact]
    public async Task ARecordArrivingWhileTheOnlyWorkerIsBusyWaitsForIt()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = await StartIdleAsync(processor.ProcessAsync);
        using var gate = processor.Hold();
        var first = batcher.SubmitAsync(1).AsTask(); // alone, on this thread; held inside the process function
        await Wait.UntilAsync(() => processor.Inside == 1, "the first record is inside");

        var second = batcher.SubmitAsync(2).AsTask();
        await Task.Delay(50);

        Assert.Equal(1, processor.Inside); // never two calls with one worker
        Assert.False(second.IsCompleted);
        processor.Release();
        Assert.Equal(1, await first.Bounded());
        Assert.Equal(2, await second.Bounded());
        Assert.Equal([[1], [2]], processor.Batches);
    }

    [Fact]
    public async Task AProcessFunctionThatHoldsItsSubmitterPutsTheFastPathOffForAWhileThenItIsTriedAgain()
    {
        var time = new FakeTimeProvider();
        bool blocking = true;
        var probe = new AloneProbe();
        await using var batcher = await StartIdleAsync(
            (batch, token) => probe.Wrap(batch, token, (b, _) =>
            {
                if (blocking)
                {
                    time.Advance(TimeSpan.FromMilliseconds(1)); // holds its caller for 1 ms of the batcher's clock
                }

                return ValueTask.FromResult<IReadOnlyList<int>>(b.ToArray());
            }),
            new DynamicBatcherOptions<int> { TimeProvider = time });
        var alone = new List<bool>();
        async Task SubmitOneAsync(int record)
        {
            await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker parks");
            var task = probe.Submit(batcher, record, out bool ranAlone);
            alone.Add(ranAlone);
            Assert.Equal(record, await task.Bounded());
        }

        await SubmitOneAsync(0); // alone, slow
        await SubmitOneAsync(1); // alone, slow
        await SubmitOneAsync(2); // alone, slow: the third in a row puts the fast path off for 10 ms
        await SubmitOneAsync(3);
        time.Advance(TimeSpan.FromMilliseconds(10));
        await SubmitOneAsync(4); // tried again, slow again: off for 20 ms
        await SubmitOneAsync(5);
        time.Advance(TimeSpan.FromMilliseconds(10));
        await SubmitOneAsync(6); // 20 ms have not passed yet
        blocking = false;
        time.Advance(TimeSpan.FromMilliseconds(10));
        await SubmitOneAsync(7); // tried again, quick: on
        await SubmitOneAsync(8);

        Assert.Equal([true, true, true, false, true, false, false, true, true], alone);
    }

    [Fact]
    public async Task CancellingARecordRunningAloneCancelsItsTaskAtOnce()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = await StartIdleAsync(processor.ProcessAsync);
        using var gate = processor.Hold();
        using var cancellation = new CancellationTokenSource();
        var task = batcher.SubmitAsync(1, cancellationToken: cancellation.Token).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the record is inside");

        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).Bounded();
        processor.Release();
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 1, "it is counted once");
        Assert.Equal(1, batcher.Stats.TotalCancelled);
    }

    [Fact]
    public async Task StopWaitsForARecordRunningAlone()
    {
        var processor = new RecordingProcessor<int>();
        var batcher = await StartIdleAsync(processor.ProcessAsync);
        using var gate = processor.Hold();
        var task = batcher.SubmitAsync(5).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the record is inside");

        var stop = batcher.StopAsync();
        await Task.Delay(50);

        Assert.False(stop.IsCompleted);
        processor.Release();
        await stop.Bounded();
        Assert.Equal(5, await task.Bounded());
        await batcher.DisposeAsync();
    }

    [Fact]
    public async Task AnAbortedStopFailsARecordRunningAloneInAFunctionThatIgnoresItsToken()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inside = 0;
        var batcher = await StartIdleAsync(async (batch, _) =>
        {
            Interlocked.Increment(ref inside);
            await gate.Task; // ignores its token
            return batch.ToArray();
        });
        var task = batcher.SubmitAsync(5).AsTask();
        await Wait.UntilAsync(() => Volatile.Read(ref inside) == 1, "the record is inside");

        using var giveUp = new CancellationTokenSource();
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batcher.StopAsync(giveUp.Token)).Bounded();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).Bounded();
        gate.SetResult();
        await batcher.DisposeAsync();
    }

    [Fact]
    public async Task EachCallerKeepsItsOrderWhenRecordsRunAloneBetweenQueuedOnes()
    {
        // Callers fire small windows of records without awaiting, so some arrive at an idle batcher (alone) and some
        // find it busy (queued): with one worker, the order in which the process function sees a caller's records is
        // the order they were submitted in.
        var seen = new ConcurrentQueue<(int Caller, int Sequence)>();
        await using var batcher = await StartIdleAsync((batch, _) =>
        {
            foreach (int record in batch)
            {
                seen.Enqueue((record >> 16, record & 0xFFFF));
            }

            if (Random.Shared.Next(4) == 0)
            {
                Thread.SpinWait(200);
            }

            return ValueTask.FromResult<IReadOnlyList<int>>(batch.ToArray());
        });
        const int callers = 6;
        const int perCaller = 3_000;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            for (int next = 0; next < perCaller;)
            {
                int window = Math.Min(perCaller - next, 1 + Random.Shared.Next(3));
                var tasks = new ValueTask<int>[window];
                for (int i = 0; i < window; i++, next++)
                {
                    tasks[i] = batcher.SubmitAsync((caller << 16) | next);
                }

                foreach (var task in tasks)
                {
                    await task;
                }
            }
        }))).Bounded();

        foreach (var caller in seen.GroupBy(s => s.Caller))
        {
            Assert.Equal(Enumerable.Range(0, perCaller), caller.Select(s => s.Sequence));
        }

        Assert.True(batcher.Stats.EagerBatches > 0);
    }

    [Fact]
    public async Task TheObserverSeesALoneRecordAsAnEagerBatchOfOneWithItsSubmitAndEndTimes()
    {
        var time = new FakeTimeProvider();
        var observer = new ReportKeeper();
        await using var batcher = await StartIdleAsync(
            (batch, _) =>
            {
                time.Advance(TimeSpan.FromMilliseconds(3)); // the call takes 3 ms of the batcher's clock
                return ValueTask.FromResult<IReadOnlyList<int>>([batch[0] * 2]);
            },
            new DynamicBatcherOptions<int> { Observer = observer, TimeProvider = time, CostEstimator = r => r });
        long submitted = time.GetTimestamp();

        Assert.Equal(14, await batcher.SubmitAsync(7).Bounded());

        var report = Assert.Single(observer.Reports);
        Assert.Equal((1, 7L, DispatchReason.Eager, TimeSpan.FromMilliseconds(3), null), (report.Records, report.Cost, report.Reason, report.Duration, report.Error));
        Assert.Equal([submitted], report.SubmitTimestamps);
        Assert.Equal(submitted + time.TimestampFrequency * 3 / 1000, report.CompletedTimestamp);
        Assert.Equal((1, 7.0), (batcher.Stats.EagerBatches, batcher.Stats.AvgBatchCost));
    }

    public static TheoryData<string> WrongResults => ["two results", "no results", "a null list", "a throwing indexer"];

    [Theory]
    [MemberData(nameof(WrongResults))]
    public async Task ALoneRecordFailsWhenItsFunctionGivesNoUsableResult(string given)
    {
        var observer = new ReportKeeper();
        await using var batcher = await StartIdleAsync(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(given switch
            {
                "two results" => [1, 2],
                "no results" => [],
                "a null list" => null!,
                _ => new ThrowingList(),
            }),
            new DynamicBatcherOptions<int> { Observer = observer });

        var task = batcher.SubmitAsync(1);

        Assert.True(task.IsCompleted); // a synchronous function: settled before the submit returned
        var error = await Assert.ThrowsAnyAsync<Exception>(() => task.AsTask());
        string expected = given switch
        {
            "two results" => "returned 2 results for a batch of 1 records",
            "no results" => "returned 0 results for a batch of 1 records",
            "a null list" => "returned null results for a batch of 1 records",
            _ => ThrowingList.Message,
        };
        Assert.Contains(expected, error.Message);
        Assert.Same(error, Assert.Single(observer.Reports).Error);
        Assert.Equal((1, 1), (batcher.Stats.TotalCompleted, batcher.Stats.TotalFailed));
    }

    public static TheoryData<string> Failures => ["throws before returning its task", "returns a faulted task", "faults later"];

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task ALoneRecordGetsTheExceptionOfItsFunction(string how)
    {
        var failure = new InvalidDataException("bad record");
        ProcessFn<int, int> process = how switch
        {
            "throws before returning its task" => (_, _) => throw failure,
            "returns a faulted task" => (_, _) => ValueTask.FromException<IReadOnlyList<int>>(failure),
            _ => FaultLaterAsync,
        };
        await using var batcher = await StartIdleAsync(process);

        var thrown = await Assert.ThrowsAsync<InvalidDataException>(() => batcher.SubmitAsync(1).AsTask()).Bounded();

        Assert.Same(failure, thrown);
        await Wait.UntilAsync(() => batcher.Stats.TotalFailed == 1, "the failure is counted");
        Assert.Equal(1, batcher.Stats.TotalCompleted);
        await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker is given back");
        Assert.Same(failure, await Assert.ThrowsAsync<InvalidDataException>(() => batcher.SubmitAsync(2).AsTask()).Bounded());
        await Wait.UntilAsync(() => batcher.Stats.TotalFailed == 2, "the next record ran too");

        async ValueTask<IReadOnlyList<int>> FaultLaterAsync(IReadOnlyList<int> batch, CancellationToken token)
        {
            await Task.Yield();
            throw failure;
        }
    }

    [Fact]
    public async Task ALoneRecordWhoseFunctionCompletesLaterGetsItsResultAndTheWorkerIsGivenBack()
    {
        var observer = new ReportKeeper();
        await using var batcher = await StartIdleAsync(
            async (batch, _) =>
            {
                await Task.Yield();
                return [batch[0] + 100];
            },
            new DynamicBatcherOptions<int> { Observer = observer });

        for (int i = 0; i < 20; i++)
        {
            await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker is given back");
            Assert.Equal(i + 100, await batcher.SubmitAsync(i).Bounded());
        }

        await Wait.UntilAsync(() => observer.Reports.Count == 20, "every batch of one is reported");
        Assert.All(observer.Reports, r => Assert.Equal((1, DispatchReason.Eager, (Exception?)null), (r.Records, r.Reason, r.Error)));
        Assert.Equal((20, 20, 0), (batcher.Stats.EagerBatches, batcher.Stats.TotalCompleted, batcher.Stats.TotalFailed));
    }

    [Fact]
    public async Task ALoneRecordCanBeEnumeratedTwiceAtOnceAndIndexedOnlyAtZero()
    {
        Exception? outOfRange = null;
        await using var batcher = await StartIdleAsync((batch, _) =>
        {
            var pairs = new List<int>();
            foreach (int a in batch)
            {
                foreach (int b in batch)
                {
                    pairs.Add(a + b);
                }
            }

            outOfRange = Record.Exception(() => batch[1]);
            return ValueTask.FromResult<IReadOnlyList<int>>([pairs.Single() + batch.Count + batch.Sum()]);
        });

        Assert.Equal(5 + 5 + 1 + 5, await batcher.SubmitAsync(5).Bounded());
        Assert.Equal(5 + 5 + 1 + 5, await batcher.SubmitAsync(5).Bounded()); // the reused enumerator was given back
        Assert.IsType<ArgumentOutOfRangeException>(outOfRange);
    }

    [Fact]
    public async Task APerRecordFunctionRunsALoneRecordAloneToo()
    {
        var batcher = new DynamicBatcher<int, int>((IRecordBatch<int, int> batch, CancellationToken _) =>
        {
            batch.SetResult(0, batch[0] * 3);
            return ValueTask.CompletedTask;
        });
        await using var _ = batcher;
        await batcher.StartAsync();
        await Wait.UntilAsync(() => batcher.HasParkedWorker, "the worker parks");

        var task = batcher.SubmitAsync(4);

        Assert.True(task.IsCompletedSuccessfully); // ran in a batch of one on this thread
        Assert.Equal(12, await task);
        Assert.Equal(1, batcher.Stats.EagerBatches);
    }

    private sealed class ThrowingList : IReadOnlyList<int>
    {
        public const string Message = "the results list failed";

        public int Count => 1;

        public int this[int index] => throw new InvalidOperationException(Message);

        public IEnumerator<int> GetEnumerator() => throw new InvalidOperationException(Message);

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed record Kept(int Records, long Cost, DispatchReason Reason, TimeSpan Duration, Exception? Error, long[] SubmitTimestamps, long CompletedTimestamp);

    /// <summary>Keeps every report, with a copy of its submit timestamps (the span is valid only during the call).</summary>
    private sealed class ReportKeeper : IBatchObserver
    {
        public ConcurrentQueue<Kept> Reports { get; } = new();

        public void OnBatchCompleted(in BatchReport report) => Reports.Enqueue(new(
            report.Records, report.Cost, report.Reason, report.Duration, report.Error, report.SubmitTimestamps.ToArray(), report.CompletedTimestamp));
    }

    /// <summary>
    /// Tells whether a record ran alone: its process call ran on the submitting thread while that thread was still
    /// inside the submit (a record run through the workers never does: the submitter's thread is busy in the submit).
    /// </summary>
    private sealed class AloneProbe
    {
        private int _submitter = -1;
        private bool _ranAlone;

        public ValueTask<IReadOnlyList<int>> Wrap(IReadOnlyList<int> batch, CancellationToken token, ProcessFn<int, int> inner)
        {
            if (Volatile.Read(ref _submitter) == Environment.CurrentManagedThreadId)
            {
                _ranAlone = true;
            }

            return inner(batch, token);
        }

        public ValueTask<int> Submit(DynamicBatcher<int, int> batcher, int record, out bool ranAlone)
        {
            _ranAlone = false;
            Volatile.Write(ref _submitter, Environment.CurrentManagedThreadId);
            var task = batcher.SubmitAsync(record);
            Volatile.Write(ref _submitter, -1);
            ranAlone = _ranAlone;
            return task;
        }
    }

    private sealed class CollectingObserver : IBatchObserver
    {
        public ConcurrentQueue<(int Records, DispatchReason Reason)> Reports { get; } = new();

        public void OnBatchCompleted(in BatchReport report) => Reports.Enqueue((report.Records, report.Reason));
    }
}

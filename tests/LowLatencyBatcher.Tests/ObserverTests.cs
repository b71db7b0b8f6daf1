using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

public class ObserverTests
{
    private sealed record Seen(int Records, long Cost, DispatchReason Reason, TimeSpan Duration, string? Error, TimeSpan[] Latencies);

    private sealed class Recorder(TimeProvider time) : IBatchObserver
    {
        public ConcurrentQueue<Seen> Reports { get; } = new();

        public void OnBatchCompleted(in BatchReport report)
        {
            var latencies = new TimeSpan[report.Records];
            for (int i = 0; i < latencies.Length; i++)
            {
                latencies[i] = report.LatencyOf(i, time);
            }

            Reports.Enqueue(new Seen(report.Records, report.Cost, report.Reason, report.Duration, report.Error?.Message, latencies));
        }
    }

    [Fact]
    public async Task EachProcessedBatchIsReportedWithItsReasonCostDurationAndLatencies()
    {
        var time = new FakeTimeProvider();
        var recorder = new Recorder(time);
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            async (batch, _) =>
            {
                time.Advance(TimeSpan.FromMilliseconds(7)); // the "model" takes 7 ms of the fake clock
                await Task.Yield();
                return batch[0].Id == 99 ? throw new InvalidDataException("bad batch") : batch;
            },
            new DynamicBatcherOptions<Costed> { TargetBatchCost = 10, MinBatchSize = 10, TimeProvider = time, Observer = recorder });
        await batcher.StartAsync();
        var full = new[] { batcher.SubmitAsync(new Costed(1, 4)).AsTask(), batcher.SubmitAsync(new Costed(2, 6)).AsTask() };
        await Task.WhenAll(full).Bounded();
        var failing = batcher.SubmitAsync(new Costed(99, 1)).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAsync<InvalidDataException>(() => failing).Bounded();
        await Wait.UntilAsync(() => recorder.Reports.Count == 2, "both batches are reported");

        var reports = recorder.Reports.ToArray();
        Assert.Equal((2, 10L, DispatchReason.Full, TimeSpan.FromMilliseconds(7), (string?)null), (reports[0].Records, reports[0].Cost, reports[0].Reason, reports[0].Duration, reports[0].Error));
        Assert.All(reports[0].Latencies, l => Assert.Equal(TimeSpan.FromMilliseconds(7), l));
        Assert.Equal((1, 1L, DispatchReason.Timeout, "bad batch"), (reports[1].Records, reports[1].Cost, reports[1].Reason, reports[1].Error));
        Assert.Equal(TimeSpan.FromMilliseconds(57), Assert.Single(reports[1].Latencies));
        Assert.Equal(1, batcher.Stats.TotalFailed);
    }

    private static DynamicBatcherOptions<Costed> BatchesOfTwo(TimeProvider time, IBatchObserver? observer) => new()
    {
        TargetBatchCost = 10,
        MinBatchSize = 2,
        BatchTimeout = TimeSpan.FromMilliseconds(50),
        TimeProvider = time,
        Observer = observer,
    };

    [Fact]
    public async Task WithAnObserverEvenASubmitWhileCallersAreResumedIsStamped()
    {
        var time = new ReadCountingClock();
        var recorder = new Recorder(time);
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(processor.ProcessAsync, BatchesOfTwo(time, recorder));
        await batcher.StartAsync();
        var caller = ResumedCaller.Start(batcher, processor);
        await Wait.UntilAsync(() => caller.ClockReadsInThirdSubmit >= 0, "record 3 was submitted by its resumed caller");
        Assert.Equal(1, caller.ClockReadsInThirdSubmit);
        time.Advance(TimeSpan.FromMilliseconds(50));
        await caller.Third.Bounded();
        await Wait.UntilAsync(() => recorder.Reports.Count == 2, "both batches are reported");
        Assert.Equal(TimeSpan.FromMilliseconds(50), Assert.Single(recorder.Reports.ToArray()[1].Latencies));
    }

    [Fact]
    public Task AnObserverSetWhileAnUnstampedRecordWaitsGetsItsBatchsOpeningAsItsSubmitTime() =>
        ResumedCaller.UntilTheResumerKeepsItsTurnAsync(async () =>
        {
            var time = new ReadCountingClock();
            var recorder = new Recorder(time);
            var processor = new RecordingProcessor<Costed>();
            await using var batcher = new DynamicBatcher<Costed, Costed>(processor.ProcessAsync, BatchesOfTwo(time, null));
            await batcher.StartAsync();
            var caller = ResumedCaller.Start(batcher, processor);
            if (!await caller.ThirdPackedInAnUninterruptedTurnAsync())
            {
                return false;
            }

            Assert.Equal(0, caller.ClockReadsInThirdSubmit);
            batcher.Reconfigure(BatchesOfTwo(time, recorder));
            time.Advance(TimeSpan.FromMilliseconds(50));
            await caller.Third.Bounded();
            await Wait.UntilAsync(() => !recorder.Reports.IsEmpty, "record 3's batch is reported");
            Assert.Equal(TimeSpan.FromMilliseconds(50), Assert.Single(Assert.Single(recorder.Reports).Latencies)); // opened at the submit's instant
            return true;
        });

    [Fact]
    public async Task AThrowingObserverNeverFailsRecords()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => ValueTask.FromResult(batch),
            new DynamicBatcherOptions<int> { Observer = new Throwing() });
        await batcher.StartAsync();
        Assert.Equal(Enumerable.Range(0, 20), await batcher.SubmitManyAsync(Enumerable.Range(0, 20)).Bounded());
    }

    [Fact]
    public async Task StatsCountFailuresCancellationsAndQueueDepth()
    {
        var processor = new RecordingProcessor<int> { Transform = b => b.Contains(3) ? throw new InvalidDataException() : b };
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxBatchSize = 1, PrefetchBatches = 1 });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        using var cancel = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, 6).Select(i => batcher.SubmitAsync(i, cancellationToken: i == 5 ? cancel.Token : default).AsTask()).ToArray();
        await Wait.UntilAsync(() => batcher.Stats.QueueDepth == 3, "records 3, 4 and 5 wait in the intake");
        cancel.Cancel();
        processor.Release();
        await Task.WhenAll(tasks.Where((_, i) => i is not (3 or 5))).Bounded();
        await Assert.ThrowsAsync<InvalidDataException>(() => tasks[3]).Bounded();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tasks[5]).Bounded();
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 6, "all six are counted");
        var stats = batcher.Stats;
        Assert.Equal((1L, 1L, 0L), (stats.TotalFailed, stats.TotalCancelled, stats.QueueDepth));
    }

    private sealed class Throwing : IBatchObserver
    {
        public void OnBatchCompleted(in BatchReport report) => throw new InvalidOperationException("observer bug");
    }
}

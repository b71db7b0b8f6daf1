using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>
/// The packing rules as a caller sees them through a running batcher. Time is a <see cref="FakeTimeProvider"/>
/// that only the test moves, so no batch ever goes out because a real clock ran.
/// </summary>
public class PackingBehaviourTests
{
    private static DynamicBatcher<Costed, Costed> Create(
        RecordingProcessor<Costed> processor, FakeTimeProvider time, int target = 10, int maxSize = 256, int minSize = 1,
        int prefetch = 2, int workers = 1) =>
        new(processor.ProcessAsync, new DynamicBatcherOptions<Costed>
        {
            TargetBatchCost = target,
            MaxBatchSize = maxSize,
            MinBatchSize = minSize,
            PrefetchBatches = prefetch,
            Workers = workers,
            BatchTimeout = TimeSpan.FromMilliseconds(50),
            TimeProvider = time,
        });

    private static int[] Ids(Costed[] batch) => batch.Select(r => r.Id).ToArray();

    [Fact]
    public async Task Rule1_HardBudget_ARecordThatWouldOverflowSealsTheOpenBatch()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, target: 5, minSize: 3, maxSize: 3);
        await batcher.StartAsync();
        var tasks = new[] { new Costed(1, 3), new Costed(2, 3), new Costed(3, 1) }
            .Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();

        // The second record would make 6 > 5: batch [1] is sealed at once, without waiting for the timeout.
        await Wait.UntilAsync(() => processor.Batches.Count == 1, "the first batch is processed");
        Assert.Equal([1], Ids(processor.Batches[0]));
        time.Advance(TimeSpan.FromMilliseconds(50)); // [2, 3] is within budget but below MinBatchSize: it times out
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal([2, 3], Ids(processor.Batches[1]));
        Assert.All(processor.Batches, b => Assert.True(b.Sum(r => r.Cost) <= 5));
    }

    [Fact]
    public async Task Rule1_HardBudget_AnOversizedRecordRunsAloneAndIsNeverStuck()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, target: 10, minSize: 256);
        await batcher.StartAsync();
        var small = batcher.SubmitAsync(new Costed(1, 2)).AsTask();
        var huge = batcher.SubmitAsync(new Costed(2, 50)).AsTask();
        var after = batcher.SubmitAsync(new Costed(3, 2)).AsTask();

        await Task.WhenAll(small, huge).Bounded(); // no clock moved: both went out because they were full
        Assert.Equal([1], Ids(processor.Batches[0]));
        Assert.Equal([2], Ids(processor.Batches[1]));
        Assert.False(after.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(50));
        await after.Bounded();
        Assert.Equal([3], Ids(processor.Batches[2]));
    }

    [Fact]
    public async Task Rule2_Full_ABatchHoldingMaxBatchSizeRecordsGoesAtOnce()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, target: 1_000, maxSize: 3, minSize: 3);
        await batcher.StartAsync();
        var tasks = Enumerable.Range(1, 7).Select(i => batcher.SubmitAsync(new Costed(i, 1)).AsTask()).ToArray();
        await Task.WhenAll(tasks.Take(6)).Bounded();
        Assert.Equal([[1, 2, 3], [4, 5, 6]], processor.Batches.Select(Ids).ToArray());
        Assert.False(tasks[6].IsCompleted); // the seventh waits: not full, below MinBatchSize, no time passed
        time.Advance(TimeSpan.FromMilliseconds(50));
        await tasks[6].Bounded();
    }

    [Fact]
    public async Task Rule2_Full_ABatchWhoseCostReachesTheTargetGoesAtOnce()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, target: 10, minSize: 256);
        await batcher.StartAsync();
        await Task.WhenAll(
            batcher.SubmitAsync(new Costed(1, 4)).AsTask(),
            batcher.SubmitAsync(new Costed(2, 6)).AsTask()).Bounded();
        Assert.Equal([1, 2], Ids(Assert.Single(processor.Batches)));
    }

    [Fact]
    public async Task Rule3_Timeout_WaitToFillSendsAPartialBatchWhenTheTimeoutPasses()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, maxSize: 8, minSize: 8);
        await batcher.StartAsync();
        var tasks = Enumerable.Range(1, 3).Select(i => batcher.SubmitAsync(new Costed(i, 1)).AsTask()).ToArray();

        time.Advance(TimeSpan.FromMilliseconds(49));
        await Task.Delay(100); // real time passes too: still nothing may go out
        Assert.Empty(processor.Batches);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal([1, 2, 3], Ids(Assert.Single(processor.Batches)));
    }

    [Fact]
    public Task Rule3_Timeout_ARecordSubmittedWhileCallersAreResumedCountsFromItsPackingAndReadsNoClock() =>
        ResumedCaller.UntilTheResumerKeepsItsTurnAsync(async () =>
        {
            var time = new ReadCountingClock();
            var processor = new RecordingProcessor<Costed>();
            await using var batcher = Create(processor, time, maxSize: 8, minSize: 2);
            await batcher.StartAsync();
            var caller = ResumedCaller.Start(batcher, processor);
            if (!await caller.ThirdPackedInAnUninterruptedTurnAsync())
            {
                return false;
            }

            // No observer, deadline or lanes: the resumer packs it after its turn, so the submit skips the clock, and the
            // batch it opens counts its timeout from that packing (the same fake instant here).
            Assert.Equal(0, caller.ClockReadsInThirdSubmit);
            time.Advance(TimeSpan.FromMilliseconds(49));
            await Task.Delay(100);
            Assert.False(caller.Third.IsCompleted);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(3, (await caller.Third.Bounded()).Id);
            Assert.Equal([[1, 2], [3]], processor.Batches.Select(Ids));
            return true;
        });

    [Fact]
    public async Task Rule3_Eager_ALoneRecordGoesStraightToAnIdleWorker()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time);
        await batcher.StartAsync();
        await Wait.UntilAsync(() => batcher.Stats.TotalSubmitted == 0, "started"); // no-op; keeps the shape explicit
        var result = await batcher.SubmitAsync(new Costed(7, 1)).Bounded(); // the clock never moves
        Assert.Equal(7, result.Id);
    }

    [Fact]
    public async Task Rule3_Eager_BatchesGrowWhileTheWorkerIsBusy()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time);
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var first = batcher.SubmitAsync(new Costed(1, 1)).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker runs the first record");
        var rest = Enumerable.Range(2, 5).Select(i => batcher.SubmitAsync(new Costed(i, 1)).AsTask()).ToArray();
        await Task.Delay(50);
        Assert.Single(processor.Batches); // the worker is busy: nothing eager may go out
        processor.Release();
        await Task.WhenAll(rest.Append(first)).Bounded();
        Assert.Equal([[1], [2, 3, 4, 5, 6]], processor.Batches.Select(Ids).ToArray());
    }

    [Fact]
    public async Task Rule3_Eager_MinBatchSizeHoldsASmallerBatchUntilTheTimeout()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, minSize: 3);
        await batcher.StartAsync();
        var two = Enumerable.Range(1, 2).Select(i => batcher.SubmitAsync(new Costed(i, 1)).AsTask()).ToArray();
        await Task.Delay(50);
        Assert.Empty(processor.Batches);
        var third = batcher.SubmitAsync(new Costed(3, 1)).AsTask(); // reaching MinBatchSize sends it eagerly
        await Task.WhenAll(two.Append(third)).Bounded();
        Assert.Equal([1, 2, 3], Ids(Assert.Single(processor.Batches)));
    }

    [Fact]
    public async Task Rule4_PrefetchFull_TheOpenBatchKeepsAbsorbingUntilItIsFull()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, time, maxSize: 4, minSize: 4, prefetch: 1);
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var all = new List<Task<Costed>>();
        for (int i = 1; i <= 4; i++)
        {
            all.Add(batcher.SubmitAsync(new Costed(i, 1)).AsTask()); // full: goes to the worker, which holds
        }

        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds batch 1");
        all.Add(batcher.SubmitAsync(new Costed(5, 1)).AsTask());
        time.Advance(TimeSpan.FromMilliseconds(50)); // [5] times out and fills the only prefetch slot
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[5] waits in the prefetch ring");
        all.Add(batcher.SubmitAsync(new Costed(6, 1)).AsTask());
        all.Add(batcher.SubmitAsync(new Costed(7, 1)).AsTask());
        time.Advance(TimeSpan.FromMilliseconds(50)); // [6, 7] times out too, but the prefetch ring is full...
        await Task.Delay(50);
        all.Add(batcher.SubmitAsync(new Costed(8, 1)).AsTask()); // ...so it keeps absorbing records
        all.Add(batcher.SubmitAsync(new Costed(9, 1)).AsTask());
        all.Add(batcher.SubmitAsync(new Costed(10, 1)).AsTask()); // [6..9] is full: 10 starts the next batch
        processor.Release();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(all).Bounded();
        Assert.Equal([[1, 2, 3, 4], [5], [6, 7, 8, 9], [10]], processor.Batches.Select(Ids).ToArray());
    }

    [Fact]
    public async Task Rule5_Order_ARecordCancelledWhileQueuedIsDroppedBeforeItTakesRoom()
    {
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, new FakeTimeProvider(), target: 100, maxSize: 2, minSize: 2, prefetch: 1);
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var kept = new List<Task<Costed>> { batcher.SubmitAsync(new Costed(1, 1)).AsTask(), batcher.SubmitAsync(new Costed(2, 1)).AsTask() };
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [1, 2]");
        kept.Add(batcher.SubmitAsync(new Costed(3, 1)).AsTask());
        kept.Add(batcher.SubmitAsync(new Costed(4, 1)).AsTask());
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[3, 4] fills the only prefetch slot");
        kept.Add(batcher.SubmitAsync(new Costed(5, 1)).AsTask());
        kept.Add(batcher.SubmitAsync(new Costed(6, 1)).AsTask());
        var packer = Engine.Of(batcher).Packer;
        await Wait.UntilAsync(() => packer.OpenBatchEntryCount(0) == 2, "[5, 6] is full and waits for prefetch room");

        using var cancel = new CancellationTokenSource();
        var doomed = batcher.SubmitAsync(new Costed(7, 1), cancellationToken: cancel.Token).AsTask(); // queued: no room
        kept.Add(batcher.SubmitAsync(new Costed(8, 1)).AsTask());
        kept.Add(batcher.SubmitAsync(new Costed(9, 1)).AsTask());
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed).Bounded();
        processor.Release();
        await batcher.StopAsync().Bounded(); // a batch that 7 had entered would leave 9 alone, for the stop to flush
        await Task.WhenAll(kept).Bounded();

        Assert.Equal([[1, 2], [3, 4], [5, 6], [8, 9]], processor.Batches.Select(Ids).ToArray());
        Assert.Equal(1, batcher.Stats.TotalCancelled);
    }

    [Fact]
    public async Task Rule5_Order_RecordsKeepSubmissionOrderIntoBatches()
    {
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = Create(processor, new FakeTimeProvider(), target: 7, maxSize: 5);
        await batcher.StartAsync();
        var random = new Random(42);
        var tasks = Enumerable.Range(0, 2_000)
            .Select(i => batcher.SubmitAsync(new Costed(i, random.Next(0, 9))).AsTask()).ToArray();
        await batcher.StopAsync().Bounded();
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal(Enumerable.Range(0, 2_000), processor.Batches.SelectMany(Ids));
        Assert.All(processor.Batches, b => Assert.True(b.Length == 1 || b.Sum(r => r.Cost) <= 7));
        Assert.All(processor.Batches, b => Assert.True(b.Length <= 5));
    }
}

using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>Rules 5 and 6 through a running batcher: priority lanes with ageing, and cost buckets.</summary>
public class PriorityAndBucketTests
{
    [Fact]
    public void Rule5_Lanes_TheMostUrgentLaneGoesFirstUnlessARecordHasAged()
    {
        var rules = new Packing.Rules.OrderRules(1000, priorityAging: TimeSpan.FromMilliseconds(500));
        long none = Packing.Rules.OrderRules.NoRecord;
        Assert.Equal(-1, rules.PickLane([none, none], now: 0));
        Assert.Equal(0, rules.PickLane([800, 700], now: 1_000)); // neither waited 500 ms: the urgent lane
        Assert.Equal(1, rules.PickLane([900, 400], now: 1_000)); // lane 1's record aged (600 ms), lane 0's did not
        Assert.Equal(0, rules.PickLane([100, 200], now: 1_000)); // both aged: the older record
        Assert.Equal(1, rules.PickLane([300, 100], now: 1_000));
        Assert.Equal(1, rules.PickLane([none, 999], now: 1_000));
    }

    [Fact]
    public void Rule6_Buckets_ARecordGoesToTheFirstBucketWhoseBoundHoldsItsCost()
    {
        var rules = new Packing.Rules.OrderRules(1000, bucketBounds: [16, 64]);
        Assert.Equal(3, rules.BucketCount);
        Assert.Equal(0, rules.BucketOf(0));
        Assert.Equal(0, rules.BucketOf(16));
        Assert.Equal(1, rules.BucketOf(17));
        Assert.Equal(1, rules.BucketOf(64));
        Assert.Equal(2, rules.BucketOf(65));
    }

    [Fact]
    public async Task Rule5_Lanes_UrgentRecordsFillTheNextBatchAheadOfWaitingBulkRecords()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { PriorityLanes = 2, MaxBatchSize = 2, PrefetchBatches = 1, PriorityAging = TimeSpan.FromHours(1) });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var all = new List<Task<int>> { batcher.SubmitAsync(0, new SubmitOptions { Priority = 1 }).AsTask() };
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [0]");
        for (int i = 1; i <= 6; i++)
        {
            // Bulk: [1, 2] fills the only prefetch slot; the rest wait (while the prefetch ring is full, only urgent
            // records join the open batch).
            all.Add(batcher.SubmitAsync(i, new SubmitOptions { Priority = 1 }).AsTask());
        }

        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[1, 2] is prefetched");
        all.Add(batcher.SubmitAsync(100, new SubmitOptions { Priority = 0 }).AsTask());
        all.Add(batcher.SubmitAsync(101, new SubmitOptions { Priority = 0 }).AsTask());
        processor.Release();
        await Task.WhenAll(all).Bounded();
        Assert.Equal([[0], [1, 2], [100, 101], [3, 4], [5, 6]], processor.Batches);
    }

    [Fact]
    public async Task Rule5_Lanes_AnAgedBulkRecordGoesAheadOfUrgentOnes()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int>
            {
                PriorityLanes = 2, MaxBatchSize = 1, PrefetchBatches = 1, PriorityAging = TimeSpan.FromMilliseconds(200), TimeProvider = time,
            });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var all = new List<Task<int>> { batcher.SubmitAsync(0).AsTask() };
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [0]");
        all.Add(batcher.SubmitAsync(1).AsTask()); // prefetched
        all.Add(batcher.SubmitAsync(2).AsTask()); // the open batch, full
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[1] is prefetched");
        all.Add(batcher.SubmitAsync(50, new SubmitOptions { Priority = 1 }).AsTask());
        time.Advance(TimeSpan.FromMilliseconds(200)); // the bulk record has now waited its ageing time
        all.Add(batcher.SubmitAsync(3).AsTask());
        processor.Release();
        await Task.WhenAll(all).Bounded();
        Assert.Equal([[0], [1], [2], [50], [3]], processor.Batches);
    }

    [Fact]
    public async Task Rule6_Buckets_EachBucketFillsItsOwnBatchAndTimesOutOnItsOwn()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed>
            {
                CostBuckets = [10], TargetBatchCost = 1_000, MaxBatchSize = 3, MinBatchSize = 3, BatchTimeout = TimeSpan.FromMilliseconds(50), TimeProvider = time,
            });
        await batcher.StartAsync();
        var tasks = new List<Task<Costed>>
        {
            batcher.SubmitAsync(new Costed(1, 5)).AsTask(),
            batcher.SubmitAsync(new Costed(2, 100)).AsTask(),
        };
        time.Advance(TimeSpan.FromMilliseconds(30));
        tasks.Add(batcher.SubmitAsync(new Costed(3, 200)).AsTask());
        tasks.Add(batcher.SubmitAsync(new Costed(4, 7)).AsTask());
        tasks.Add(batcher.SubmitAsync(new Costed(5, 300)).AsTask()); // the long bucket is full: [2, 3, 5] goes at once
        await Task.WhenAll(tasks[1], tasks[2], tasks[4]).Bounded();
        Assert.Equal([2, 3, 5], Assert.Single(processor.Batches).Select(r => r.Id));
        time.Advance(TimeSpan.FromMilliseconds(20)); // the short bucket's first record was submitted 50 ms ago
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal([[2, 3, 5], [1, 4]], processor.Batches.Select(b => b.Select(r => r.Id).ToArray()));
    }

    [Fact]
    public async Task APriorityOutsideTheLanesIsRefusedNamingIt()
    {
        await using var batcher = new DynamicBatcher<int, int>((b, _) => ValueTask.FromResult(b), new DynamicBatcherOptions<int> { PriorityLanes = 2 });
        await batcher.StartAsync();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => batcher.SubmitAsync(1, new SubmitOptions { Priority = 2 }));
        Assert.Equal("Priority", error.ParamName);
        Assert.Equal(1, await batcher.SubmitAsync(1, new SubmitOptions { Priority = 1 }).Bounded());
        Assert.Equal(
            "CostBuckets",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher<int, int>(
                (b, _) => ValueTask.FromResult(b), new DynamicBatcherOptions<int> { CostBuckets = [10, 10] })).ParamName);
        Assert.Equal(
            "PriorityLanes",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher<int, int>(
                (b, _) => ValueTask.FromResult(b), new DynamicBatcherOptions<int> { PriorityLanes = 9 })).ParamName);
    }

    [Fact]
    public async Task TrySubmitTakesAPriorityAndATimeout()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { PriorityLanes = 2, MinBatchSize = 4, MaxBatchSize = 4, TimeProvider = time });
        await batcher.StartAsync();
        Assert.True(batcher.TrySubmit(1, new SubmitOptions { Priority = 1 }, out var bulk));
        Assert.True(batcher.TrySubmit(2, new SubmitOptions { Priority = 1, Timeout = TimeSpan.FromMilliseconds(10) }, out var doomed));
        time.Advance(TimeSpan.FromMilliseconds(10));
        await Assert.ThrowsAsync<TimeoutException>(() => doomed.AsTask()).Bounded();
        Assert.Throws<ArgumentOutOfRangeException>(() => batcher.TrySubmit(3, new SubmitOptions { Priority = 5 }, out _));
        time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Equal(1, await bulk.AsTask().Bounded());
        Assert.Equal([1], Assert.Single(processor.Batches));
    }

    [Fact]
    public async Task Rule4_PrefetchFull_WithLanesOnlyUrgentRecordsJoinTheOpenBatch()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { PriorityLanes = 2, MaxBatchSize = 4, MinBatchSize = 4, PrefetchBatches = 1, TimeProvider = time });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var bulk = new SubmitOptions { Priority = 1 };
        var all = Enumerable.Range(0, 4).Select(i => batcher.SubmitAsync(i, bulk).AsTask()).ToList();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [0..3]");
        all.AddRange(Enumerable.Range(4, 4).Select(i => batcher.SubmitAsync(i, bulk).AsTask()));
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[4..7] fills the only prefetch slot");
        all.AddRange(Enumerable.Range(8, 4).Select(i => batcher.SubmitAsync(i, bulk).AsTask())); // may not join now
        all.Add(batcher.SubmitAsync(100).AsTask()); // urgent: joins the open batch at once
        await Wait.UntilAsync(() => batcher.Stats.QueueDepth == 3, "the urgent record is placed");
        processor.Release();
        await Task.WhenAll(all.Take(11)).Bounded();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(all).Bounded();
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7], [100, 8, 9, 10], [11]], processor.Batches);
    }
}

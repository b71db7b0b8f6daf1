using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>The one admission path every submit takes: options, timeouts and counts never differ between them.</summary>
public class AdmissionTests
{
    [Fact]
    public async Task SubmitManyArmsTheDefaultTimeoutOfEveryRecord()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync, new DynamicBatcherOptions<int> { DefaultTimeout = TimeSpan.FromMilliseconds(100), TimeProvider = time });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var first = batcher.SubmitAsync(0).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker is busy");

        var many = batcher.SubmitManyAsync([1, 2, 3, 4]);
        await Wait.UntilAsync(() => batcher.Stats.TotalSubmitted == 5, "all are accepted");
        time.Advance(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAsync<TimeoutException>(() => many).Bounded();
        processor.Release();
        Assert.Equal(0, await first.Bounded());
        Assert.Equal(4, batcher.Stats.TotalTimedOut);
    }

    [Fact]
    public async Task SubmitManyTakesSubmitOptions()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { PriorityLanes = 2, TimeProvider = time });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var first = batcher.SubmitAsync(0).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker is busy");

        var bulk = batcher.SubmitManyAsync([1, 2], new SubmitOptions { Priority = 1, Timeout = TimeSpan.FromMilliseconds(50) });
        var urgent = batcher.SubmitManyAsync([3, 4], new SubmitOptions { Priority = 0 });
        await Wait.UntilAsync(() => batcher.Stats.TotalSubmitted == 5, "all are accepted");
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAsync<TimeoutException>(() => bulk).Bounded();
        processor.Release();

        Assert.Equal([3, 4], await urgent.Bounded());
        Assert.Equal(0, await first.Bounded());
        Assert.Equal(2, batcher.Stats.TotalTimedOut);
        Assert.Throws<ArgumentOutOfRangeException>("Priority", () =>
            batcher.SubmitManyAsync([5], new SubmitOptions { Priority = 2 }).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task ARecordTimeoutCountsFromTheSubmitEvenWhileItWaitsForRoom()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1, TimeProvider = time });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var running = batcher.SubmitAsync(0).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker is busy");
        var prefetched = batcher.SubmitAsync(1).AsTask();
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "a batch waits for the worker");
        var open = batcher.SubmitAsync(2).AsTask(); // fills the only open batch
        var queued = batcher.SubmitAsync(3).AsTask(); // the intake's one slot
        await Wait.UntilAsync(() => batcher.Stats.QueueDepth == 1, "the queue is full");

        var hurried = batcher.SubmitAsync(4, new SubmitOptions { Timeout = TimeSpan.FromMilliseconds(100) }).AsTask();
        await Task.Delay(20);
        Assert.False(hurried.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(100));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => hurried).Bounded();
        Assert.Contains("100 ms", error.Message);
        processor.Release();
        Assert.Equal(new[] { 0, 1, 2, 3 }, await Task.WhenAll(running, prefetched, open, queued).Bounded());
        Assert.Equal(4, batcher.Stats.TotalSubmitted); // the record that never found room was never accepted
    }

    [Fact]
    public async Task ACallerThatHasItsResultFindsItCounted()
    {
        for (int run = 0; run < 200; run++)
        {
            await using var batcher = new DynamicBatcher<int, int>(
                (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.ToArray()),
                new DynamicBatcherOptions<int> { RunAloneWhenIdle = run % 2 == 0 });
            await batcher.StartAsync();
            var a = batcher.SubmitAsync(1);
            var b = batcher.SubmitAsync(2);
            await a;
            await b;
            var stats = batcher.Stats;
            Assert.Equal(2, stats.TotalSubmitted);
            Assert.Equal(2, stats.TotalCompleted);
        }
    }

    [Fact]
    public async Task ASnapshotNeverCountsMoreCompletedThanSubmittedAndBusyTimeNeverGoesBack()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.ToArray()), new DynamicBatcherOptions<int> { Workers = 2 });
        await batcher.StartAsync();
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await batcher.SubmitAsync(1);
            }
        })));
        var lastBusy = TimeSpan.Zero;
        for (int i = 0; i < 20_000; i++)
        {
            var stats = batcher.Stats;
            Assert.True(stats.TotalCompleted <= stats.TotalSubmitted, $"{stats.TotalCompleted} completed > {stats.TotalSubmitted} submitted");
            Assert.True(stats.BusyTime >= lastBusy, $"busy time went from {lastBusy} to {stats.BusyTime}");
            lastBusy = stats.BusyTime;
        }

        stop.Cancel();
        await load.Bounded();
    }
}

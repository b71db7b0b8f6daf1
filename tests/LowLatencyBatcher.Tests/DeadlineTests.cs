using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

public class DeadlineTests
{
    [Fact]
    public async Task ARecordNotHandedToAWorkerByItsDeadlineTimesOutAndNeverReachesTheProcessFunction()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MinBatchSize = 10, MaxBatchSize = 10, BatchTimeout = TimeSpan.FromSeconds(1), TimeProvider = time });
        await batcher.StartAsync();
        var patient = batcher.SubmitAsync(1).AsTask();
        var hurried = batcher.SubmitAsync(2, new SubmitOptions { Timeout = TimeSpan.FromMilliseconds(100) }).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(100));
        var error = await Assert.ThrowsAsync<TimeoutException>(() => hurried).Bounded();
        Assert.Contains("100 ms", error.Message);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await patient.Bounded());
        Assert.Equal([1], Assert.Single(processor.Batches));
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 2, "both are counted");
        Assert.Equal(1, batcher.Stats.TotalTimedOut);
    }

    [Fact]
    public async Task TheDefaultTimeoutAppliesToSubmitsWithoutOne()
    {
        var time = new FakeTimeProvider();
        await using var batcher = new DynamicBatcher<int, int>(
            (b, _) => ValueTask.FromResult(b),
            new DynamicBatcherOptions<int>
            {
                MinBatchSize = 10, MaxBatchSize = 10, BatchTimeout = TimeSpan.FromSeconds(1), DefaultTimeout = TimeSpan.FromMilliseconds(30), TimeProvider = time,
            });
        await batcher.StartAsync();
        var task = batcher.SubmitAsync(1).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(30));
        await Assert.ThrowsAsync<TimeoutException>(() => task).Bounded();
    }

    [Fact]
    public async Task ADeadlineNoLongerAppliesOnceAWorkerHasTheRecord()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, new DynamicBatcherOptions<int> { TimeProvider = time });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var task = batcher.SubmitAsync(1, new SubmitOptions { Timeout = TimeSpan.FromMilliseconds(10) }).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker has the record");
        time.Advance(TimeSpan.FromSeconds(1));
        processor.Release();
        Assert.Equal(1, await task.Bounded());
    }

    [Fact]
    public async Task AnInvalidTimeoutIsRefusedNamingIt()
    {
        await using var batcher = new DynamicBatcher<int, int>((b, _) => ValueTask.FromResult(b));
        await batcher.StartAsync();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => batcher.SubmitAsync(1, new SubmitOptions { Timeout = TimeSpan.Zero }));
        Assert.Equal("Timeout", error.ParamName);
        Assert.Equal(
            "DefaultTimeout",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher<int, int>(
                (b, _) => ValueTask.FromResult(b), new DynamicBatcherOptions<int> { DefaultTimeout = TimeSpan.FromSeconds(-1) })).ParamName);
    }
}

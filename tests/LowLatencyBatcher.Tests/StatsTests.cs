using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

public class StatsTests
{
    [Fact]
    public void UtilizationIsZeroWhenNoTimeHasPassed()
    {
        Assert.Equal(0, default(BatchStats).Utilization);
        var batcher = new DynamicBatcher<int, int>((b, _) => ValueTask.FromResult(b));
        Assert.Equal(default, batcher.Stats);
    }

    [Fact]
    public async Task CountsSizesCostsAndBusyTimeFollowTheFakeClock()
    {
        var time = new FakeTimeProvider();
        var inside = new SemaphoreSlim(0);
        var leave = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            async (batch, _) =>
            {
                inside.Release();
                await leave.WaitAsync();
                return batch;
            },
            new DynamicBatcherOptions<Costed> { MaxBatchSize = 2, MinBatchSize = 2, TimeProvider = time });
        await batcher.StartAsync();
        var tasks = new[] { new Costed(1, 3), new Costed(2, 5), new Costed(3, 4), new Costed(4, 0) }
            .Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();

        await inside.WaitAsync(Wait.Generous); // batch [1, 2] is inside from fake t = 0
        time.Advance(TimeSpan.FromSeconds(3));
        leave.Release();
        await inside.WaitAsync(Wait.Generous); // batch [3, 4] is inside from fake t = 3 s
        time.Advance(TimeSpan.FromSeconds(1));
        leave.Release();
        await Task.WhenAll(tasks).Bounded();
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 4, "every record is counted");
        time.Advance(TimeSpan.FromSeconds(4)); // idle

        var stats = batcher.Stats;
        Assert.Equal(4, stats.TotalSubmitted);
        Assert.Equal(4, stats.TotalCompleted);
        Assert.Equal(2, stats.TotalBatches);
        Assert.Equal(12, stats.TotalBatchCost);
        Assert.Equal(2.0, stats.AvgBatchSize);
        Assert.Equal(6.0, stats.AvgBatchCost);
        Assert.Equal(TimeSpan.FromSeconds(4), stats.BusyTime);
        Assert.Equal(TimeSpan.FromSeconds(4), stats.IdleTime);
        Assert.Equal(0.5, stats.Utilization, precision: 6);
    }

    [Fact]
    public async Task BusyTimeIsTheUnionOfOverlappingWorkersSoUtilizationStaysWithinOne()
    {
        var time = new FakeTimeProvider();
        var inside = new SemaphoreSlim(0);
        var leave = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher<int, int>(
            async (batch, _) =>
            {
                inside.Release();
                await leave.WaitAsync();
                return batch;
            },
            new DynamicBatcherOptions<int> { MaxBatchSize = 1, Workers = 2, TimeProvider = time });
        await batcher.StartAsync();
        var a = batcher.SubmitAsync(1).AsTask();
        var b = batcher.SubmitAsync(2).AsTask();
        await inside.WaitAsync(Wait.Generous);
        await inside.WaitAsync(Wait.Generous); // both workers inside at once
        time.Advance(TimeSpan.FromSeconds(2));
        leave.Release(2);
        await Task.WhenAll(a, b).Bounded();
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 2, "both records are counted");
        Assert.Equal(TimeSpan.FromSeconds(2), batcher.Stats.BusyTime); // not 4 s
        Assert.Equal(1.0, batcher.Stats.Utilization, precision: 6);
    }
}

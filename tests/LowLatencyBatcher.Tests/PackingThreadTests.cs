namespace LowLatencyBatcher.Tests;

public class PackingThreadTests
{
    private static readonly ProcessFn<int, int> Echo = (batch, _) => ValueTask.FromResult(batch);

    [Fact]
    public async Task ThePackingThreadIsPinnedToOneAllowedCpuOnLinux()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo);
        await batcher.StartAsync();
        Assert.Equal(1, await batcher.SubmitAsync(1).Bounded()); // the thread is up and has pinned itself
        if (OperatingSystem.IsLinux() && Environment.ProcessorCount > 1)
        {
            await Wait.UntilAsync(() => batcher.PackingThreadCpu >= 0, "the packing thread reports its CPU");
            Assert.InRange(batcher.PackingThreadCpu, 0, 1023);
        }
        else
        {
            Assert.Equal(-1, batcher.PackingThreadCpu); // one CPU (or not Linux): pinning would gain nothing
        }
    }

    [Fact]
    public async Task PinningCanBeTurnedOff()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo, new DynamicBatcherOptions<int> { PinPackingThread = false });
        await batcher.StartAsync();
        Assert.Equal(1, await batcher.SubmitAsync(1).Bounded());
        Assert.Equal(-1, batcher.PackingThreadCpu);
    }
}

namespace LowLatencyBatcher.Tests;

public class SmokeTests
{
    [Fact]
    public async Task EachCallerGetsItsOwnResult()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(batch.Select(x => x * 2).ToArray()));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 1000).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        var results = await Task.WhenAll(tasks).WaitAsync(Wait.Generous);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => i * 2), results);
        await batcher.StopAsync();
        Assert.Equal(1000, batcher.Stats.TotalSubmitted);
        Assert.Equal(1000, batcher.Stats.TotalCompleted);
    }
}

namespace LowLatencyBatcher.Tests;

public class ProcessFailureTests
{
    private static DynamicBatcherOptions<int> Batches(int size) => new() { MaxBatchSize = size, MinBatchSize = size };

    [Fact]
    public async Task AnExceptionFromTheProcessFunctionFailsEveryRecordOfThatBatchAndTheBatcherKeepsRunning()
    {
        var boom = new InvalidDataException("boom");
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => batch.Contains(3) ? throw boom : ValueTask.FromResult(batch), Batches(2));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 6).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        Assert.Equal(0, await tasks[0].Bounded());
        Assert.Equal(1, await tasks[1].Bounded());
        Assert.Same(boom, await Assert.ThrowsAsync<InvalidDataException>(() => tasks[2]).Bounded());
        Assert.Same(boom, await Assert.ThrowsAsync<InvalidDataException>(() => tasks[3]).Bounded());
        Assert.Equal(4, await tasks[4].Bounded());
        Assert.Equal(5, await tasks[5].Bounded());
        Assert.True(batcher.IsRunning);
        Assert.Equal(6, batcher.Stats.TotalCompleted); // failed records count as completed
    }

    [Fact]
    public async Task AFaultedTaskFromTheProcessFunctionFailsTheBatchToo()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            async (batch, _) =>
            {
                await Task.Yield();
                throw new TimeoutException("model timed out");
            },
            Batches(1));
        await batcher.StartAsync();
        var error = await Assert.ThrowsAsync<TimeoutException>(() => batcher.SubmitAsync(1).AsTask()).Bounded();
        Assert.Equal("model timed out", error.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task AWrongNumberOfResultsFailsEveryRecordNamingBothCounts(int returned)
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(new int[returned]), Batches(2));
        await batcher.StartAsync();
        var a = batcher.SubmitAsync(1).AsTask();
        var b = batcher.SubmitAsync(2).AsTask();
        foreach (var task in new[] { a, b })
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => task).Bounded();
            Assert.Contains($"returned {returned} results for a batch of 2 records", error.Message);
        }

        Assert.True(batcher.IsRunning);
    }

    [Fact]
    public async Task NullResultsFailEveryRecord()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<int>>(null!), Batches(1));
        await batcher.StartAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.SubmitAsync(1).AsTask()).Bounded();
        Assert.Contains("returned null results for a batch of 1 records", error.Message);
    }

    [Fact]
    public async Task ResultsGoToTheRecordAtTheSameIndex()
    {
        await using var batcher = new DynamicBatcher<string, string>(
            (batch, _) => ValueTask.FromResult<IReadOnlyList<string>>(batch.Select(s => s.ToUpperInvariant()).ToArray()),
            new DynamicBatcherOptions<string> { MaxBatchSize = 4 });
        await batcher.StartAsync();
        var words = Enumerable.Range(0, 100).Select(i => $"word{i}").ToArray();
        var results = await batcher.SubmitManyAsync(words).Bounded();
        Assert.Equal(words.Select(w => w.ToUpperInvariant()), results);
    }
}

namespace LowLatencyBatcher.Tests;

public class BackpressureTests
{
    [Fact]
    public async Task TrySubmitReturnsFalseWhenTheQueueIsFullAndSubmitAsyncWaitsForRoom()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 3, MaxBatchSize = 1, PrefetchBatches = 1 });
        await batcher.StartAsync();
        processor.Hold();

        // Fill everything: the worker holds one batch, one waits in the prefetch ring, one is the full open batch,
        // and the intake holds MaxQueueSize more.
        var accepted = new List<ValueTask<int>>();
        int next = 0;
        var deadline = DateTime.UtcNow + Wait.Generous;
        while (DateTime.UtcNow < deadline)
        {
            if (batcher.TrySubmit(next, out var result))
            {
                accepted.Add(result);
                next++;
                continue;
            }

            await Task.Delay(20); // the packing thread may still be moving records: retry until it is stuck too
            if (!batcher.TrySubmit(next, out result))
            {
                break;
            }

            accepted.Add(result);
            next++;
        }

        Assert.Equal(1 + 1 + 1 + 3, accepted.Count);
        var waiting = batcher.SubmitAsync(next).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted); // backpressure: the submit waits while the queue is full
        processor.Release();
        Assert.Equal(next, await waiting.Bounded());
        for (int i = 0; i < accepted.Count; i++)
        {
            Assert.Equal(i, await accepted[i].AsTask().Bounded());
        }
    }

    [Fact]
    public async Task SubmitManyKeepsOrderThroughAFullQueue()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 4, MaxBatchSize = 3 });
        await batcher.StartAsync();
        var results = await batcher.SubmitManyAsync(Enumerable.Range(0, 500)).Bounded();
        Assert.Equal(Enumerable.Range(0, 500), results);
        Assert.Equal(Enumerable.Range(0, 500), processor.Batches.SelectMany(b => b));
    }
}

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
        using var gate = processor.Hold();

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

    [Fact]
    public async Task SubmitsFiredWithoutAwaitingKeepTheirOrderThroughAFullQueue()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 2, MaxBatchSize = 3, PrefetchBatches = 1 });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var tasks = Enumerable.Range(0, 300).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray(); // most must wait in line
        await Task.Delay(20);
        Assert.True(batcher.Stats.TotalSubmitted < 300, "the queue was full: later submits had to wait for room");
        processor.Release();
        Assert.Equal(Enumerable.Range(0, 300), await Task.WhenAll(tasks).Bounded());
        Assert.Equal(Enumerable.Range(0, 300), processor.Batches.SelectMany(b => b)); // in submission order
    }

    [Fact]
    public async Task AWaitingSubmitCancelledBeforeItGetsRoomLeavesTheLineAndTheOthersKeepTheirOrder()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1 });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        using var cancel = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, 20)
            .Select(i => batcher.SubmitAsync(i, cancellationToken: i % 5 == 4 ? cancel.Token : default).AsTask()).ToArray();
        await Task.Delay(20);
        cancel.Cancel();
        processor.Release();
        var kept = Enumerable.Range(0, 20).Where(i => i % 5 != 4).ToArray();
        foreach (int i in Enumerable.Range(0, 20).Except(kept))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tasks[i]).Bounded();
        }

        Assert.Equal(kept, await Task.WhenAll(kept.Select(i => tasks[i])).Bounded());
        Assert.Equal(kept, processor.Batches.SelectMany(b => b));
    }
}

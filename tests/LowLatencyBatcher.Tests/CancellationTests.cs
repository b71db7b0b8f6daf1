using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

public class CancellationTests
{
    [Fact]
    public async Task ARecordCancelledWhileQueuedIsCancelledAndNeverReachesTheProcessFunction()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync, new DynamicBatcherOptions<int> { MinBatchSize = 10, MaxBatchSize = 10, TimeProvider = time });
        await batcher.StartAsync();
        using var cancel = new CancellationTokenSource();
        var kept = batcher.SubmitAsync(1).AsTask();
        var cancelled = batcher.SubmitAsync(2, cancellationToken: cancel.Token).AsTask();
        var alsoKept = batcher.SubmitAsync(3).AsTask();
        cancel.Cancel();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).Bounded();
        Assert.Equal(cancel.Token, error.CancellationToken);
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(kept, alsoKept).Bounded();
        Assert.Equal([1, 3], Assert.Single(processor.Batches));
        Assert.Equal(3, batcher.Stats.TotalCompleted);
    }

    [Fact]
    public async Task ARecordCancelledWhilePrefetchedNeverReachesTheProcessFunction()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2, PrefetchBatches = 1 });
        await batcher.StartAsync();
        processor.Hold();
        var first = new[] { batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask() };
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds [1, 2]");
        using var cancel = new CancellationTokenSource();
        var doomed = batcher.SubmitAsync(3, cancellationToken: cancel.Token).AsTask();
        var survivor = batcher.SubmitAsync(4).AsTask();
        await Wait.UntilAsync(() => batcher.PrefetchedBatchCount == 1, "[3, 4] waits in the prefetch ring");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed).Bounded();
        processor.Release();
        await Task.WhenAll(first.Append(survivor)).Bounded();
        Assert.Equal([[1, 2], [4]], processor.Batches);
    }

    [Fact]
    public async Task ARecordCancelledDuringProcessingIsCancelledAtOnceAndItsResultDropped()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync);
        await batcher.StartAsync();
        processor.Hold();
        using var cancel = new CancellationTokenSource();
        var task = batcher.SubmitAsync(1, cancellationToken: cancel.Token).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the record is inside the process function");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).Bounded(); // while the call still hangs
        Assert.Equal(1, processor.Inside);
        processor.Release();
        Assert.Equal(2, await batcher.SubmitAsync(2).Bounded()); // the late result was dropped without harm
        Assert.Equal(2, batcher.Stats.TotalCompleted);
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenCancelsWithoutSubmitting()
    {
        await using var batcher = new DynamicBatcher<int, int>((b, _) => ValueTask.FromResult(b));
        await batcher.StartAsync();
        var task = batcher.SubmitAsync(1, cancellationToken: new CancellationToken(canceled: true));
        Assert.True(task.IsCanceled);
        Assert.Equal(0, batcher.Stats.TotalSubmitted);
    }

    [Fact]
    public async Task ASubmitterWaitingForRoomCanBeCancelled()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1 });
        await batcher.StartAsync();
        processor.Hold();
        var accepted = new List<Task<int>>();
        using var cancel = new CancellationTokenSource();
        Task<int> waiting;
        while (true)
        {
            var task = batcher.SubmitAsync(accepted.Count, cancellationToken: cancel.Token).AsTask();
            await Task.Delay(20);
            if (!batcher.TrySubmit(-1, out _) && task.Status == TaskStatus.WaitingForActivation && batcher.Stats.TotalSubmitted == accepted.Count)
            {
                waiting = task;
                break;
            }

            accepted.Add(task);
        }

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).Bounded();
        processor.Release();
        foreach (var task in accepted)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).Bounded(); // same token: cancelled too
        }
    }
}

using System.Reflection;
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
        using var gate = processor.Hold();
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
        using var gate = processor.Hold();
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // run alone on the submitter's thread: the record may complete before its token is tied
    public async Task AResultNeverAwaitedLeavesNothingOnALongLivedToken(bool runAloneWhenIdle)
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (b, _) => ValueTask.FromResult(b), new DynamicBatcherOptions<int> { RunAloneWhenIdle = runAloneWhenIdle });
        await batcher.StartAsync();
        using var longLived = new CancellationTokenSource();
        var completions = SubmitAndForget(batcher, longLived.Token, count: 50);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        // Never awaited, the completions never went back to the pool: only the token's registrations could keep them.
        int alive = completions.Count(reference => reference.IsAlive);
        Assert.True(alive == 0, $"{alive} of {completions.Count} completions are still held after their records completed");
        Assert.Equal(50, batcher.Stats.TotalCompleted);
    }

    /// <summary>
    /// Submits records with the token, waits until each completed, and keeps only weak references to them. Synchronous,
    /// so no async state machine keeps a task alive.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static List<WeakReference> SubmitAndForget(DynamicBatcher<int, int> batcher, CancellationToken token, int count)
    {
        var source = typeof(ValueTask<int>).GetField("_obj", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var references = new List<WeakReference>();
        for (int i = 0; i < count; i++)
        {
            var task = batcher.SubmitAsync(i, cancellationToken: token);
            Assert.True(SpinWait.SpinUntil(() => task.IsCompleted, Wait.Generous), $"record {i} did not complete");
            references.Add(new WeakReference(source.GetValue(task)));
        }

        return references;
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
        using var gate = processor.Hold();
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

using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

public class LifecycleTests
{
    private static readonly ProcessFn<int, int> Echo = (batch, _) => ValueTask.FromResult(batch);

    [Fact]
    public async Task SubmitBeforeStartIsRefused()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo);
        var error = Assert.Throws<InvalidOperationException>(() => batcher.SubmitAsync(1));
        Assert.Contains("not running", error.Message);
        Assert.Throws<InvalidOperationException>(() => batcher.TrySubmit(1, out _));
        Assert.False(batcher.IsRunning);
    }

    [Fact]
    public async Task ASecondStartWhileRunningIsRefused()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo);
        await batcher.StartAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.StartAsync());
        Assert.Contains("already running", error.Message);
    }

    [Fact]
    public async Task StopOnABatcherThatIsNotRunningDoesNothing()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo);
        await batcher.StopAsync().Bounded();
        await batcher.StopAsync().Bounded();
        Assert.False(batcher.IsRunning);
    }

    [Fact]
    public async Task StartAfterACompletedStopRunsAgainAndStatsAccumulate()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo);
        await batcher.StartAsync();
        Assert.Equal(1, await batcher.SubmitAsync(1).Bounded());
        await batcher.StopAsync().Bounded();
        Assert.Throws<InvalidOperationException>(() => batcher.SubmitAsync(2));
        await batcher.StartAsync();
        Assert.True(batcher.IsRunning);
        Assert.Equal(3, await batcher.SubmitAsync(3).Bounded());
        await batcher.StopAsync().Bounded();
        Assert.Equal(2, batcher.Stats.TotalSubmitted);
        Assert.Equal(2, batcher.Stats.TotalCompleted);
    }

    [Fact]
    public async Task StopFlushesAPartialBatchAtOnceWithoutWaitingForTheTimeout()
    {
        var processor = new RecordingProcessor<int>();
        var options = new DynamicBatcherOptions<int>
        {
            MinBatchSize = 100, MaxBatchSize = 100, BatchTimeout = TimeSpan.FromDays(1), TimeProvider = new FakeTimeProvider(),
        };
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, options);
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 10).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await batcher.StopAsync().Bounded(); // the fake clock never moves: only the stop can have flushed the batch
        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(tasks).Bounded());
        Assert.Equal(Enumerable.Range(0, 10), Assert.Single(processor.Batches));
        Assert.Equal(10, batcher.Stats.TotalCompleted);
    }

    [Fact]
    public async Task SubmitAfterStopBeganOrAfterDisposeIsRefused()
    {
        var processor = new RecordingProcessor<int>();
        var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync);
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var held = batcher.SubmitAsync(1).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds a batch");
        var stopping = batcher.StopAsync();
        Assert.False(batcher.IsRunning);
        Assert.Contains("stopping", Assert.Throws<InvalidOperationException>(() => batcher.SubmitAsync(2)).Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.StartAsync());
        processor.Release();
        await stopping.Bounded();
        Assert.Equal(1, await held);
        await batcher.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => batcher.SubmitAsync(3));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => batcher.StartAsync());
    }

    [Fact]
    public async Task DisposeDrainsEveryAcceptedRecord()
    {
        var processor = new RecordingProcessor<int>();
        var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxBatchSize = 3 });
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 50).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await batcher.DisposeAsync().AsTask().Bounded();
        Assert.Equal(Enumerable.Range(0, 50), await Task.WhenAll(tasks));
    }

    [Fact]
    public async Task ConcurrentStopsAllWaitForTheSameDrainAndALaterStartWorks()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync);
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var held = batcher.SubmitAsync(1).AsTask();
        await Wait.UntilAsync(() => processor.Inside == 1, "the worker holds a batch");
        var stops = Enumerable.Range(0, 4).Select(_ => Task.Run(() => batcher.StopAsync())).ToArray();
        await Task.Delay(20);
        Assert.DoesNotContain(stops, s => s.IsCompleted);
        processor.Release();
        await Task.WhenAll(stops).Bounded();
        Assert.Equal(1, await held);
        await batcher.StartAsync();
        Assert.Equal(2, await batcher.SubmitAsync(2).Bounded());
    }

    [Fact]
    public async Task StopWithACancelledTokenWhileAProcessCallHangsCancelsEverythingAndThrows()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var neverEnds = new TaskCompletionSource<IReadOnlyList<int>>();
        CancellationToken seenToken = default;
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, token) =>
            {
                seenToken = token;
                entered.TrySetResult();
                return new ValueTask<IReadOnlyList<int>>(neverEnds.Task); // ignores its token
            },
            new DynamicBatcherOptions<int> { MaxBatchSize = 2, PrefetchBatches = 1, MaxQueueSize = 100 });
        await batcher.StartAsync();
        var inProcess = batcher.SubmitAsync(0).AsTask();
        await entered.Task.Bounded();
        var queued = Enumerable.Range(1, 20).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();

        using var stopToken = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batcher.StopAsync(stopToken.Token)).Bounded();
        Assert.True(seenToken.IsCancellationRequested);
        foreach (var task in queued.Append(inProcess))
        {
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).Bounded();
            Assert.Equal(stopToken.Token, error.CancellationToken);
        }

        Assert.False(batcher.IsRunning);
        Assert.Equal(21, batcher.Stats.TotalCompleted);
        neverEnds.SetResult([42]); // the late result is dropped without harm
        await batcher.StartAsync(); // and the batcher can run again
        await batcher.StopAsync().Bounded();
    }

    [Fact]
    public async Task ARestartAfterAnAbortedStopNeverRunsMoreProcessCallsThanWorkers()
    {
        var hung = new TaskCompletionSource<IReadOnlyList<int>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondCallStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0, inside = 0, mostInside = 0;
        await using var batcher = new DynamicBatcher<int, int>(
            async (batch, _) =>
            {
                int now = Interlocked.Increment(ref inside);
                Atomically.Max(ref mostInside, now);
                try
                {
                    if (Interlocked.Increment(ref calls) == 1)
                    {
                        return await hung.Task; // the first call ignores its token
                    }

                    secondCallStarted.TrySetResult();
                    return batch.ToArray();
                }
                finally
                {
                    Interlocked.Decrement(ref inside);
                }
            },
            new DynamicBatcherOptions<int> { Workers = 1 });
        await batcher.StartAsync();
        var lost = batcher.SubmitAsync(1).AsTask();
        await Wait.UntilAsync(() => Volatile.Read(ref inside) == 1, "the first call hangs");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batcher.StopAsync(new CancellationToken(canceled: true))).Bounded();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lost).Bounded();

        await batcher.StartAsync();
        var next = batcher.SubmitAsync(2).AsTask();
        // The new run's worker must wait for the old call: give it time to (wrongly) start a second one.
        bool startedBeside = await Task.WhenAny(secondCallStarted.Task, Task.Delay(500)) == secondCallStarted.Task;
        hung.SetResult([1]);
        Assert.Equal(2, await next.Bounded());
        Assert.False(startedBeside, "a process call of the new run started while the old one still ran");
        Assert.Equal(1, mostInside);
        await batcher.StopAsync().Bounded();
    }

    [Fact]
    public async Task SubmittersWaitingForRoomWhenStopBeginsAreRefusedNotLeftWaiting()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 2, MaxBatchSize = 1, PrefetchBatches = 1 });
        await batcher.StartAsync();
        using var gate = processor.Hold();
        var accepted = new List<Task<int>>();
        var waiting = new List<Task<int>>();
        for (int i = 0; i < 20; i++)
        {
            var task = batcher.SubmitAsync(i).AsTask();
            (task.IsCompleted || accepted.Count < 5 ? accepted : waiting).Add(task);
        }

        await Task.Delay(50);
        var stopping = batcher.StopAsync();
        processor.Release();
        await stopping.Bounded();
        int ok = 0, refused = 0;
        foreach (var task in accepted.Concat(waiting))
        {
            try
            {
                await task.Bounded();
                ok++;
            }
            catch (InvalidOperationException e) when (e.Message.Contains("stopping"))
            {
                refused++;
            }
        }

        Assert.Equal(20, ok + refused);
        Assert.True(refused > 0, "some submitters were waiting for room when the stop began");
        Assert.Equal(ok, batcher.Stats.TotalSubmitted);
        Assert.Equal(ok, batcher.Stats.TotalCompleted);
    }
}

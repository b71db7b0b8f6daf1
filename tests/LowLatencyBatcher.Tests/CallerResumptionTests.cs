namespace LowLatencyBatcher.Tests;

/// <summary>
/// Resuming a batch's callers: a worker runs their continuations on its own thread when it has nothing else to do, so
/// a continuation that blocks must never stall the batcher (the packing thread takes such a worker over), and the
/// bound on process calls must hold throughout.
/// </summary>
public class CallerResumptionTests
{
    private static ValueTask<IReadOnlyList<int>> Echo(IReadOnlyList<int> batch, CancellationToken token) =>
        ValueTask.FromResult<IReadOnlyList<int>>(batch.ToArray());

    /// <summary>Every record through the packing thread and the workers (no idle fast path), one worker.</summary>
    private static DynamicBatcherOptions<int> ThroughTheWorker(int workers = 1, int minBatchSize = 1, int maxBatchSize = 256) => new()
    {
        Workers = workers,
        MinBatchSize = minBatchSize,
        MaxBatchSize = maxBatchSize,
        BatchTimeout = TimeSpan.FromSeconds(10),
        RunAloneWhenIdle = false,
    };

    [Fact]
    public async Task ACallerWhoseContinuationBlocksOnItsNextRecordDoesNotStallTheBatcher()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo, ThroughTheWorker());
        await batcher.StartAsync();

        for (int round = 0; round < 20; round++)
        {
            int first = round * 2;
            int second = await Task.Run(async () =>
            {
                Assert.Equal(first, await batcher.SubmitAsync(first));
                // Sync over async inside the continuation, which may run on the worker's own thread: the record can
                // only complete if another thread takes the worker's place.
                return batcher.SubmitAsync(first + 1).AsTask().GetAwaiter().GetResult();
            }).Bounded();
            Assert.Equal(first + 1, second);
        }

        Assert.Equal(40, batcher.Stats.TotalCompleted);
    }

    [Fact]
    public async Task ABatchIsRecycledBeforeItsCallersAreResumed()
    {
        // Each record makes a batch of its own, and the process function sees each batch's record list (the batch's own
        // object, reused with it). The first caller's continuation blocks until the test has seen more batches: only
        // the outcome it was resumed from waits for it, so its batch goes back to the pool and carries later records
        // meanwhile. (Were a batch kept until its last caller returned, overlapping resumptions would need a new batch
        // each; under a pipelined load the pool then allocated.)
        var seen = new List<IReadOnlyList<int>>();
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, token) =>
            {
                lock (seen)
                {
                    seen.Add(batch);
                }

                return Echo(batch, token);
            },
            ThroughTheWorker(maxBatchSize: 1));
        await batcher.StartAsync();

        using var released = new ManualResetEventSlim();
        var firstCaller = Task.Run(async () =>
        {
            Assert.Equal(0, await batcher.SubmitAsync(0));
            released.Wait(Wait.Generous); // blocks the thread that resumed this caller
        });
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 1, "the first record completes");

        try
        {
            for (int i = 1; i <= 20; i++)
            {
                Assert.Equal(i, await batcher.SubmitAsync(i).Bounded());
            }

            Assert.False(firstCaller.IsCompleted, "the first caller's continuation is still blocked");
            IReadOnlyList<int> first;
            lock (seen)
            {
                first = seen[0];
                Assert.Contains(seen.Skip(1), batch => ReferenceEquals(batch, first));
            }
        }
        finally
        {
            released.Set();
        }

        await firstCaller.Bounded();
    }

    [Fact]
    public async Task ACallerWhoseContinuationWaitsForAnotherCallerOfTheSameBatchIsNotDeadlocked()
    {
        await using var batcher = new DynamicBatcher<int, int>(Echo, ThroughTheWorker(minBatchSize: 2));
        await batcher.StartAsync();
        var seconds = new List<int>();

        for (int round = 0; round < 10; round++)
        {
            using var secondResumed = new ManualResetEventSlim();
            var firstSubmitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // The first caller's record is first in the batch, so its continuation is resumed first, and it blocks
            // until the second caller's continuation has run: the second must be resumed by another thread.
            int record = 2 * round;
            var firstCaller = Task.Run(async () =>
            {
                var result = batcher.SubmitAsync(record);
                firstSubmitted.SetResult();
                await result;
                return secondResumed.Wait(Wait.Generous);
            });
            var secondCaller = Task.Run(async () =>
            {
                await firstSubmitted.Task;
                int result = await batcher.SubmitAsync(record + 1);
                secondResumed.Set();
                return result;
            });

            Assert.True(await firstCaller.Bounded(), "the first caller's continuation waited for ever for the second's");
            seconds.Add(await secondCaller.Bounded());
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(round => (2 * round) + 1), seconds);
    }

    [Fact]
    public async Task ProcessCallsStayWithinWorkersWhileCallersContinuationsBlock()
    {
        const int Workers = 2;
        const int Callers = 16;
        const int PerCaller = 150;
        int inside = 0;
        int mostInside = 0;
        async ValueTask<IReadOnlyList<int>> Process(IReadOnlyList<int> batch, CancellationToken token)
        {
            int now = Interlocked.Increment(ref inside);
            Atomically.Max(ref mostInside, now);
            try
            {
                if (batch[0] % 3 == 0)
                {
                    await Task.Yield(); // some calls complete asynchronously
                }

                return batch.ToArray();
            }
            finally
            {
                Interlocked.Decrement(ref inside);
            }
        }

        await using var batcher = new DynamicBatcher<int, int>(Process, ThroughTheWorker(Workers));
        await batcher.StartAsync();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            for (int i = 0; i < PerCaller; i++)
            {
                int record = (caller * PerCaller) + i;
                Assert.Equal(record, await batcher.SubmitAsync(record));
                if (i % 25 == 0)
                {
                    Thread.Sleep(8); // a continuation that holds its thread past the packing thread's watch
                }
            }
        }))).Bounded();

        Assert.InRange(mostInside, 1, Workers);
        var stats = batcher.Stats;
        Assert.Equal(Callers * PerCaller, stats.TotalCompleted);
        Assert.Equal(0, stats.TotalFailed);
    }

    [Fact]
    public async Task AStopWaitedForSynchronouslyInsideACallersContinuationCompletes()
    {
        var batcher = new DynamicBatcher<int, int>(Echo, ThroughTheWorker());
        await batcher.StartAsync();

        await Task.Run(async () =>
        {
            Assert.Equal(5, await batcher.SubmitAsync(5));
            // The stop waits for the workers to finish; this continuation may be holding one of them.
            batcher.StopAsync().GetAwaiter().GetResult();
        }).Bounded();

        await batcher.DisposeAsync();
        Assert.Equal(1, batcher.Stats.TotalCompleted);
    }
}

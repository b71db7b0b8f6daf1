using System.Collections.Concurrent;

namespace LowLatencyBatcher.Tests;

public class PerRecordOutcomeTests
{
    private static DynamicBatcherOptions<int> Batches(int size, bool isolate = false) =>
        new() { MaxBatchSize = size, MinBatchSize = size, IsolateFailures = isolate };

    [Fact]
    public async Task EachRecordGetsTheOutcomeTheFunctionGaveIt()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                for (int i = 0; i < batch.Count; i++)
                {
                    if (batch[i] % 2 == 0)
                    {
                        batch.SetResult(i, batch[i] * 10);
                    }
                    else
                    {
                        batch.SetException(i, new ArgumentException($"odd {batch[i]}"));
                    }
                }

                return ValueTask.CompletedTask;
            },
            Batches(4));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        Assert.Equal(0, await tasks[0].Bounded());
        Assert.Equal("odd 1", (await Assert.ThrowsAsync<ArgumentException>(() => tasks[1]).Bounded()).Message);
        Assert.Equal(20, await tasks[2].Bounded());
        Assert.Equal("odd 3", (await Assert.ThrowsAsync<ArgumentException>(() => tasks[3]).Bounded()).Message);
        await Wait.UntilAsync(() => batcher.Stats.TotalCompleted == 4, "all four are counted");
        Assert.Equal(2, batcher.Stats.TotalFailed);
    }

    [Fact]
    public async Task ARecordLeftWithoutAnOutcomeFailsWithAClearError()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                batch.SetResult(0, 7);
                return ValueTask.CompletedTask;
            },
            Batches(3));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 3).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        Assert.Equal(7, await tasks[0].Bounded());
        foreach (var task in tasks.Skip(1))
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => task).Bounded();
            Assert.Contains("without an outcome for 2 of the batch's 3 records", error.Message);
        }
    }

    [Fact]
    public async Task WhenTheFunctionThrowsOnlyRecordsWithoutAnOutcomeGetTheException()
    {
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                batch.SetResult(0, 1);
                throw new InvalidDataException("model crashed");
            },
            Batches(2));
        await batcher.StartAsync();
        var first = batcher.SubmitAsync(0).AsTask();
        var second = batcher.SubmitAsync(1).AsTask();
        Assert.Equal(1, await first.Bounded());
        await Assert.ThrowsAsync<InvalidDataException>(() => second).Bounded();
    }

    [Fact]
    public async Task GivingARecordTwoOutcomesOrAnIndexOutsideTheBatchThrows()
    {
        var errors = new ConcurrentQueue<Exception>();
        var returned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                batch.SetResult(0, 1); // completes the caller's task at once, while this call goes on
                errors.Enqueue(Record.Exception(() => batch.SetResult(0, 2))!);
                errors.Enqueue(Record.Exception(() => batch.SetException(1, new Exception()))!);
                returned.SetResult();
                return ValueTask.CompletedTask;
            },
            Batches(1));
        await batcher.StartAsync();
        Assert.Equal(1, await batcher.SubmitAsync(5).Bounded());
        await returned.Task.Bounded();
        Assert.Collection(
            errors,
            e => Assert.Contains("already has an outcome", Assert.IsType<InvalidOperationException>(e).Message),
            e => Assert.IsType<ArgumentOutOfRangeException>(e));
    }

    [Fact]
    public async Task IsolateFailuresGivesTheExceptionOnlyToThePoisonRecord()
    {
        int calls = 0;
        await using var batcher = new DynamicBatcher<int, int>(
            (batch, _) =>
            {
                Interlocked.Increment(ref calls);
                return batch.Contains(5) ? throw new InvalidDataException("poison") : ValueTask.FromResult(batch);
            },
            Batches(8, isolate: true));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 8).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        for (int i = 0; i < 8; i++)
        {
            if (i == 5)
            {
                await Assert.ThrowsAsync<InvalidDataException>(() => tasks[i]).Bounded();
            }
            else
            {
                Assert.Equal(i, await tasks[i].Bounded());
            }
        }

        Assert.Equal(1 + 2 * 3, calls); // the whole batch, then two halves at each of log2(8) levels
        Assert.Equal(1, batcher.Stats.TotalFailed);
    }

    [Fact]
    public async Task IsolateFailuresRetriesOnlyTheRecordsWithoutAnOutcome()
    {
        var seen = new ConcurrentQueue<int[]>();
        await using var batcher = new DynamicBatcher<int, int>(
            (IRecordBatch<int, int> batch, CancellationToken _) =>
            {
                seen.Enqueue(batch.ToArray());
                if (batch.Count > 1 && batch[0] == 0)
                {
                    batch.SetResult(0, 100); // record 0 succeeds in the first call
                }

                if (batch.Contains(3))
                {
                    throw new InvalidDataException("poison");
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    batch.SetResult(i, batch[i]);
                }

                return ValueTask.CompletedTask;
            },
            Batches(4, isolate: true));
        await batcher.StartAsync();
        var tasks = Enumerable.Range(0, 4).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        Assert.Equal(100, await tasks[0].Bounded());
        Assert.Equal(1, await tasks[1].Bounded());
        Assert.Equal(2, await tasks[2].Bounded());
        await Assert.ThrowsAsync<InvalidDataException>(() => tasks[3]).Bounded();
        Assert.Equal([0, 1, 2, 3], seen.First());
        Assert.DoesNotContain(seen.Skip(1), b => b.Contains(0)); // the settled record is never run again
    }
}

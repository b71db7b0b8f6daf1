using Microsoft.Extensions.Time.Testing;

namespace LowLatencyBatcher.Tests;

/// <summary>Full-queue modes, cost models, live reconfiguration, and why batches were sent.</summary>
public class ConfigurationTests
{
    [Fact]
    public async Task RejectModeFailsASubmitAtOnceWhenTheQueueIsFull()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<int> { MaxQueueSize = 1, MaxBatchSize = 1, PrefetchBatches = 1, QueueFullMode = QueueFullMode.Reject });
        await batcher.StartAsync();
        processor.Hold();
        var accepted = new List<Task<int>>();
        QueueFullException? refused = null;
        for (int i = 0; i < 50 && refused is null; i++)
        {
            try
            {
                accepted.Add(batcher.SubmitAsync(i).AsTask());
            }
            catch (QueueFullException e)
            {
                refused = e;
            }

            await Task.Delay(5);
        }

        Assert.NotNull(refused);
        Assert.Equal(1, refused.MaxQueueSize);
        Assert.Equal(1, batcher.Stats.TotalRejected);
        Assert.Equal(accepted.Count, batcher.Stats.TotalSubmitted);
        processor.Release();
        Assert.Equal(Enumerable.Range(0, accepted.Count), await Task.WhenAll(accepted).Bounded());
    }

    [Fact]
    public async Task PaddedCostSealsABatchWhenALongRecordWouldPadEveryRow()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed> { TargetBatchCost = 100, CostModel = CostModel.Padded, MinBatchSize = 50, TimeProvider = time });
        await batcher.StartAsync();
        var tasks = new[] { new Costed(1, 10), new Costed(2, 10), new Costed(3, 40), new Costed(4, 40) }
            .Select(r => batcher.SubmitAsync(r).AsTask()).ToArray();
        await Task.WhenAll(tasks.Take(2)).Bounded(); // 3 x 40 = 120 > 100: record 3 starts the next batch
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(tasks).Bounded();
        Assert.Equal([[1, 2], [3, 4]], processor.Batches.Select(b => b.Select(r => r.Id).ToArray()));
        Assert.Equal(2 * 10 + 2 * 40, batcher.Stats.TotalBatchCost);
        Assert.Equal((1L, 1L), (batcher.Stats.BudgetBatches, batcher.Stats.TimeoutBatches));
    }

    [Fact]
    public async Task AReconfigurationAppliesFromTheNextBatch()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<int>();
        var options = new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2, TimeProvider = time };
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, options);
        await batcher.StartAsync();
        await Task.WhenAll(batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask()).Bounded();
        batcher.Reconfigure(new DynamicBatcherOptions<int> { MaxBatchSize = 512, MinBatchSize = 3, TimeProvider = time });
        var next = Enumerable.Range(3, 3).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        await Task.WhenAll(next).Bounded();
        Assert.Equal([[1, 2], [3, 4, 5]], processor.Batches);
        var bigger = Enumerable.Range(6, 300).Select(i => batcher.SubmitAsync(i).AsTask()).ToArray();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.WhenAll(bigger).Bounded(); // batches of up to 512 now: the pooled buffers grew
        Assert.Equal(Enumerable.Range(1, 305), processor.Batches.SelectMany(b => b));
    }

    [Fact]
    public async Task AnInvalidOrStructuralReconfigurationIsRefusedAndChangesNothing()
    {
        var processor = new RecordingProcessor<int>();
        await using var batcher = new DynamicBatcher<int, int>(processor.ProcessAsync, new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2 });
        await batcher.StartAsync();
        var invalid = Assert.Throws<ArgumentOutOfRangeException>(() => batcher.Reconfigure(new DynamicBatcherOptions<int> { MaxBatchSize = 0 }));
        Assert.Equal("MaxBatchSize", invalid.ParamName);
        var structural = Assert.Throws<ArgumentException>(() => batcher.Reconfigure(
            new DynamicBatcherOptions<int> { MaxBatchSize = 2, MinBatchSize = 2, Workers = 3 }));
        Assert.Equal("Workers", structural.ParamName);
        Assert.Contains("only be set when the batcher is created", structural.Message);
        await Task.WhenAll(batcher.SubmitAsync(1).AsTask(), batcher.SubmitAsync(2).AsTask()).Bounded();
        Assert.Equal([1, 2], Assert.Single(processor.Batches));
    }

    [Fact]
    public async Task StatsCountWhyEachBatchWasSent()
    {
        var time = new FakeTimeProvider();
        var processor = new RecordingProcessor<Costed>();
        await using var batcher = new DynamicBatcher<Costed, Costed>(
            processor.ProcessAsync,
            new DynamicBatcherOptions<Costed> { TargetBatchCost = 10, MaxBatchSize = 3, MinBatchSize = 3, TimeProvider = time });
        await batcher.StartAsync();
        await Task.WhenAll(new[] { new Costed(1, 4), new Costed(2, 6) }.Select(r => batcher.SubmitAsync(r).AsTask())).Bounded(); // full
        await Task.WhenAll(new[] { new Costed(3, 1), new Costed(4, 1), new Costed(5, 1) }.Select(r => batcher.SubmitAsync(r).AsTask())).Bounded(); // size
        var pending = new[] { new Costed(6, 5), new Costed(7, 6) }.Select(r => batcher.SubmitAsync(r).AsTask()).ToArray(); // budget, then [7] waits
        await pending[0].Bounded();
        await batcher.StopAsync().Bounded(); // flushes [7]
        await pending[1].Bounded();
        var stats = batcher.Stats;
        Assert.Equal((1L, 1L, 1L, 0L, 0L, 1L), (stats.FullBatches, stats.SizeBatches, stats.BudgetBatches, stats.EagerBatches, stats.TimeoutBatches, stats.ShutdownBatches));
    }
}

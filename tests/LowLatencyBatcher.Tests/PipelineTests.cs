namespace LowLatencyBatcher.Tests;

/// <summary>One run's engine, built without starting its threads.</summary>
public class PipelineTests
{
    private static readonly ProcessFn<int, int> Echo = (batch, _) => ValueTask.FromResult(batch);

    [Fact]
    public void TheBatchPoolKeepsEveryBatchThatCanBeAliveAtOnce_OneOpenBatchPerBucket()
    {
        var pipeline = NewPipeline(new DynamicBatcherOptions<int> { CostBuckets = [10, 100], PrefetchBatches = 1, Workers = 1 });

        // At most alive at once: one open batch per bucket (3), the prefetched one and the worker's one.
        const int Alive = 3 + 1 + 1;
        var first = Enumerable.Range(0, Alive).Select(_ => pipeline.Batches.Rent()).ToList();
        first.ForEach(pipeline.Batches.Return);
        var second = Enumerable.Range(0, Alive).Select(_ => pipeline.Batches.Rent()).ToList();

        Assert.All(second, batch => Assert.Contains(first, kept => ReferenceEquals(kept, batch))); // none was allocated
    }

    [Fact]
    public void TheFirstAbortErrorWins_APackingThreadFailureIsNotReplacedByALaterStop()
    {
        var pipeline = NewPipeline(new DynamicBatcherOptions<int>());
        var defect = new InvalidOperationException("a defect");
        pipeline.Run.FailFromPackingThread(defect);
        pipeline.BeginStop();
        pipeline.Abort(new CancellationToken(canceled: true));

        Assert.Same(defect, Assert.IsType<InvalidOperationException>(pipeline.Run.AbortError).InnerException);
    }

    [Fact]
    public void TheFirstAbortErrorWins_ASecondStopDoesNotReplaceTheFirstStopsError()
    {
        var pipeline = NewPipeline(new DynamicBatcherOptions<int>());
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        first.Cancel();
        second.Cancel();
        pipeline.BeginStop();
        pipeline.Abort(first.Token);
        var error = pipeline.Run.AbortError;
        pipeline.Abort(second.Token);

        Assert.Same(error, pipeline.Run.AbortError);
        Assert.Equal(first.Token, Assert.IsType<OperationCanceledException>(pipeline.Run.AbortError).CancellationToken);
    }

    private static Pipeline<int, int> NewPipeline(DynamicBatcherOptions<int> options)
    {
        var settings = BatcherSettings<int>.From(options, tokenBatcher: false);
        var counters = new Completion.BatcherCounters(TimeProvider.System);
        return new(
            new LiveSettings<int>(settings),
            Handoff.ProcessCall<int, int>.Of(Echo, null),
            new Completion.CompletionPool<int>(settings.MaxRecordsInFlight, counters),
            counters);
    }
}

namespace LowLatencyBatcher.Baselines;

/// <summary>Submits one int record and returns its result: the seam the load drivers use for every batcher.</summary>
/// <remarks>Implemented by structs, so a generic driver is specialised per batcher and pays no virtual call.</remarks>
public interface ISubmitter
{
    /// <summary>Submits <paramref name="record"/>; the result of the no-op process function is the record itself.</summary>
    ValueTask<int> SubmitAsync(int record);
}

/// <summary>The library's token batcher.</summary>
public readonly struct TokenBatcherSubmitter(TokenBatcher<int, int> batcher) : ISubmitter
{
    /// <inheritdoc />
    public ValueTask<int> SubmitAsync(int record) => batcher.SubmitAsync(record);
}

/// <summary>Baseline (a).</summary>
public readonly struct ChannelSubmitter(ChannelBatcher<int, int> batcher) : ISubmitter
{
    /// <inheritdoc />
    public ValueTask<int> SubmitAsync(int record) => new(batcher.SubmitAsync(record));
}

/// <summary>Baseline (b).</summary>
public readonly struct DataflowSubmitter(DataflowBatcher<int, int> batcher) : ISubmitter
{
    /// <inheritdoc />
    public ValueTask<int> SubmitAsync(int record) => new(batcher.SubmitAsync(record));
}

/// <summary>
/// Closed-loop load: each producer submits a record, awaits its result, then submits the next, so as many records
/// are in flight as there are producers. Every result is checked (a wrong one means a record got another's result).
/// </summary>
public static class ClosedLoop
{
    /// <summary>Runs <paramref name="producers"/> producers of <paramref name="perProducer"/> records each.</summary>
    public static Task RunAsync<TSubmitter>(TSubmitter submitter, int producers, int perProducer)
        where TSubmitter : struct, ISubmitter
    {
        var tasks = new Task[producers];
        for (int p = 0; p < producers; p++)
        {
            tasks[p] = Task.Run(() => ProduceAsync(submitter, perProducer));
        }

        return Task.WhenAll(tasks);
    }

    private static async Task ProduceAsync<TSubmitter>(TSubmitter submitter, int count)
        where TSubmitter : struct, ISubmitter
    {
        long sum = 0;
        for (int i = 0; i < count; i++)
        {
            sum += await submitter.SubmitAsync(i).ConfigureAwait(false);
        }

        if (sum != (long)count * (count - 1) / 2)
        {
            throw new InvalidOperationException("a record got another record's result");
        }
    }
}

/// <summary>The three batchers set up the same way for the end-to-end runs: no-op process function, default knobs.</summary>
public static class NoOpBatchers
{
    /// <summary>Returns the batch itself: result <c>i</c> is record <c>i</c>.</summary>
    public static ValueTask<IReadOnlyList<int>> Echo(IReadOnlyList<int> batch, CancellationToken cancellationToken) =>
        ValueTask.FromResult(batch);

    /// <summary>The library's token batcher with its defaults (eager dispatch, one worker).</summary>
    public static async Task<TokenBatcher<int, int>> StartTokenBatcherAsync(TokenBatcherOptions<int>? options = null)
    {
        var batcher = new TokenBatcher<int, int>(Echo, options ?? new TokenBatcherOptions<int>());
        await batcher.StartAsync().ConfigureAwait(false);
        return batcher;
    }

    /// <summary>Baseline (a), started.</summary>
    public static ChannelBatcher<int, int> StartChannel(BaselineOptions? options = null)
    {
        var batcher = new ChannelBatcher<int, int>(Echo, options);
        batcher.Start();
        return batcher;
    }

    /// <summary>Baseline (b), started.</summary>
    public static DataflowBatcher<int, int> StartDataflow(BaselineOptions? options = null) => new(Echo, options);
}

namespace LowLatencyBatcher;

/// <summary>
/// The knobs of a <see cref="TokenBatcher{TRecord, TResult}"/>: the options of a dynamic batcher, with token-named
/// aliases. An alias that is set wins over its cost-named twin.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
public class TokenBatcherOptions<TRecord> : DynamicBatcherOptions<TRecord>
{
    /// <summary>The token budget of one batch; when set, it wins over <see cref="DynamicBatcherOptions{TRecord}.TargetBatchCost"/>.</summary>
    public int? TargetBatchTokens { get; init; }

    /// <summary>The token count of a record nothing else estimates; when set, it wins over <see cref="DynamicBatcherOptions{TRecord}.DefaultCost"/>.</summary>
    public int? DefaultTokenEstimate { get; init; }

    /// <summary>Estimates a record's tokens; when set, it wins over <see cref="DynamicBatcherOptions{TRecord}.CostEstimator"/>.</summary>
    public CostEstimatorFn<TRecord>? TokenEstimator { get; init; }
}

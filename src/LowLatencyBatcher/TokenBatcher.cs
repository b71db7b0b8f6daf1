namespace LowLatencyBatcher;

/// <summary>
/// A <see cref="DynamicBatcher{TRecord, TResult}"/> whose cost is a token count: records implementing
/// <see cref="ITokenEstimator"/> estimate themselves, and the options and submits take token-named aliases.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public class TokenBatcher<TRecord, TResult> : DynamicBatcher<TRecord, TResult>
{
    /// <summary>Creates a token batcher; call <see cref="DynamicBatcher{TRecord, TResult}.StartAsync"/> before submitting.</summary>
    /// <param name="inferenceFn">Runs inference on one batch; see <see cref="ProcessFn{TRecord, TResult}"/>.</param>
    /// <param name="options">The knobs; null takes every default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inferenceFn"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option breaks its rule; the exception names it.</exception>
    public TokenBatcher(ProcessFn<TRecord, TResult> inferenceFn, TokenBatcherOptions<TRecord>? options = null)
        : base(
            inferenceFn ?? throw new ArgumentNullException(nameof(inferenceFn)),
            options ?? new TokenBatcherOptions<TRecord>(),
            tokenBatcher: true)
    {
    }

    /// <summary>Creates a token batcher whose inference function gives each record its own outcome.</summary>
    /// <param name="inferenceEach">Runs inference on one batch record by record; see <see cref="ProcessEachFn{TRecord, TResult}"/>.</param>
    /// <param name="options">The knobs; null takes every default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inferenceEach"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option breaks its rule; the exception names it.</exception>
    public TokenBatcher(ProcessEachFn<TRecord, TResult> inferenceEach, TokenBatcherOptions<TRecord>? options = null)
        : base(
            null,
            inferenceEach ?? throw new ArgumentNullException(nameof(inferenceEach)),
            options ?? new TokenBatcherOptions<TRecord>(),
            tokenBatcher: true)
    {
    }

    /// <summary>
    /// Submits one record and returns its result once its batch was processed. The cost is, in order:
    /// <paramref name="estimatedTokens"/>, <paramref name="estimatedCost"/>, the estimator function,
    /// <see cref="ITokenEstimator"/>, <see cref="ICostEstimator"/>, the default.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="estimatedTokens">Its token count, when known.</param>
    /// <param name="estimatedCost">Its cost, when known (used when <paramref name="estimatedTokens"/> is null).</param>
    /// <param name="cancellationToken">Cancels the submit (see <see cref="DynamicBatcher{TRecord, TResult}.SubmitAsync(TRecord, int?, CancellationToken)"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An explicit estimate is negative.</exception>
    /// <exception cref="InvalidOperationException">The batcher is not running, or is stopping.</exception>
    public ValueTask<TResult> SubmitAsync(
        TRecord record,
        int? estimatedTokens = null,
        int? estimatedCost = null,
        CancellationToken cancellationToken = default) =>
        Submit(record, new SubmitOptions { EstimatedTokens = estimatedTokens, EstimatedCost = estimatedCost }, cancellationToken);
}

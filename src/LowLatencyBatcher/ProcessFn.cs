namespace LowLatencyBatcher;

/// <summary>
/// Processes one batch of records and returns one result per record, in the same order as the batch.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
/// <param name="batch">
/// The records of the batch, in submission order. The list is a pooled view that is valid only until the
/// returned task completes: copy what must outlive the call.
/// </param>
/// <param name="cancellationToken">Cancelled when a stop with a cancelled token gives up on the drain.</param>
/// <returns>Exactly <c>batch.Count</c> results; result <c>i</c> belongs to record <c>i</c>.</returns>
public delegate ValueTask<IReadOnlyList<TResult>> ProcessFn<TRecord, TResult>(
    IReadOnlyList<TRecord> batch, CancellationToken cancellationToken);

/// <summary>Estimates the cost (for example, the token count) of one record.</summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <param name="record">The record to estimate.</param>
/// <returns>A cost of zero or more.</returns>
public delegate int CostEstimatorFn<in TRecord>(TRecord record);

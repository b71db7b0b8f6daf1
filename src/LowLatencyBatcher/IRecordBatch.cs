namespace LowLatencyBatcher;

/// <summary>
/// A batch handed to a <see cref="ProcessEachFn{TRecord, TResult}"/>: its records, and a way to give each one its
/// own outcome. It is a pooled view, valid only until the function's task completes.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public interface IRecordBatch<out TRecord, in TResult> : IReadOnlyList<TRecord>
{
    /// <summary>Completes record <paramref name="index"/> with <paramref name="result"/>. Safe to call from several threads for different records.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the batch.</exception>
    /// <exception cref="InvalidOperationException">The record already has an outcome from this call.</exception>
    void SetResult(int index, TResult result);

    /// <summary>Fails record <paramref name="index"/> alone with <paramref name="exception"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the batch.</exception>
    /// <exception cref="InvalidOperationException">The record already has an outcome from this call.</exception>
    void SetException(int index, Exception exception);
}

/// <summary>
/// Processes one batch and gives each record its own outcome through <see cref="IRecordBatch{TRecord, TResult}"/>:
/// one bad record need not fail the others. A record left without an outcome when the task completes fails with
/// an <see cref="InvalidOperationException"/>; if the function throws, the records without an outcome get that
/// exception (or, with <c>IsolateFailures</c>, are retried in halves).
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
/// <param name="batch">The records and their outcomes; valid only until the returned task completes.</param>
/// <param name="cancellationToken">Cancelled when a stop with a cancelled token gives up on the drain.</param>
public delegate ValueTask ProcessEachFn<TRecord, TResult>(
    IRecordBatch<TRecord, TResult> batch, CancellationToken cancellationToken);

using System.Runtime.CompilerServices;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// The batcher's process function in one of its two shapes, chosen once when the batcher is built: list-returning
/// (<see cref="ProcessFn{TRecord, TResult}"/>: one result per record, in order) or per-record
/// (<see cref="ProcessEachFn{TRecord, TResult}"/>: the function gives each record its outcome). Each shape knows how
/// to call its function and how to check and settle what a call gave.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal abstract class ProcessCall<TRecord, TResult>
{
    /// <summary>The shape of whichever function was given (exactly one of the two is not null).</summary>
    public static ProcessCall<TRecord, TResult> Of(ProcessFn<TRecord, TResult>? processFn, ProcessEachFn<TRecord, TResult>? processEach) =>
        processFn is not null ? new ListShape(processFn) : new EachShape(processEach!);

    /// <summary>
    /// The list-shaped function, which the idle fast path calls on a lone record without a batch; null for the
    /// per-record shape, whose outcomes are given through a batch's view (its lone records run in a batch of one).
    /// </summary>
    public abstract ProcessFn<TRecord, TResult>? ListFunction { get; }

    /// <summary>
    /// What makes a list-shaped call's results unusable for <paramref name="records"/> records: their count throwing,
    /// or a count other than one result per record. Null when they can be used.
    /// </summary>
    public static Exception? CheckResults(IReadOnlyList<TResult>? results, int records)
    {
        int? resultCount;
        try
        {
            resultCount = results?.Count;
        }
        catch (Exception e)
        {
            return e;
        }

        return resultCount == records ? null : new InvalidOperationException(
            $"The process function returned {(resultCount is int n ? n.ToString() : "null")} results for a batch " +
            $"of {records} records; it must return exactly one result per record.");
    }

    /// <summary>
    /// Calls the function once on the view's window. Gives the results (list shape) or null (per-record shape, whose
    /// outcomes are in the batch already). A throwing function throws here.
    /// </summary>
    public abstract ValueTask<IReadOnlyList<TResult>?> InvokeAsync(RecordView<TRecord, TResult> batch, CancellationToken token);

    /// <summary>
    /// Gives the window's records the outcome of one call (<paramref name="results"/>, or the exception it threw),
    /// counted into <paramref name="outcome"/>. False, settling nothing, when the call threw, failure isolation is on
    /// (<paramref name="isolating"/>) and more than one record is left without an outcome: retry them in halves.
    /// </summary>
    public abstract bool Settle(
        RecordView<TRecord, TResult> batch, IReadOnlyList<TResult>? results, Exception? error, bool isolating, ref BatchOutcome outcome);

    private sealed class ListShape(ProcessFn<TRecord, TResult> processFn) : ProcessCall<TRecord, TResult>
    {
        public override ProcessFn<TRecord, TResult> ListFunction => processFn;

        public override ValueTask<IReadOnlyList<TResult>?> InvokeAsync(RecordView<TRecord, TResult> batch, CancellationToken token) =>
            processFn(batch, token)!;

        public override bool Settle(
            RecordView<TRecord, TResult> batch, IReadOnlyList<TResult>? results, Exception? error, bool isolating, ref BatchOutcome outcome)
        {
            if (error is not null)
            {
                if (isolating && batch.Count > 1)
                {
                    return false;
                }
            }
            else
            {
                error = CheckResults(results, batch.Count);
                if (error is null)
                {
                    outcome.Completed += batch.CompleteWith(results!);
                    return true;
                }
            }

            outcome.AddFailures(batch.FailUnsettled(error), error);
            return true;
        }
    }

    private sealed class EachShape(ProcessEachFn<TRecord, TResult> processEach) : ProcessCall<TRecord, TResult>
    {
        public override ProcessFn<TRecord, TResult>? ListFunction => null;

        public override ValueTask<IReadOnlyList<TResult>?> InvokeAsync(RecordView<TRecord, TResult> batch, CancellationToken token)
        {
            var call = processEach(batch, token);
            return call.IsCompletedSuccessfully ? default : AwaitAsync(call);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private static async ValueTask<IReadOnlyList<TResult>?> AwaitAsync(ValueTask call)
        {
            await call;
            return null;
        }

        public override bool Settle(
            RecordView<TRecord, TResult> batch, IReadOnlyList<TResult>? results, Exception? error, bool isolating, ref BatchOutcome outcome)
        {
            // A call of several records that threw: retry those left without an outcome, even a single one, since it
            // has not failed in a call of its own yet.
            if (error is not null && isolating && batch.Count > 1 && batch.GatherUnsettled() > 0)
            {
                return false;
            }

            int unsettled = batch.CountUnsettled();
            error ??= unsettled == 0 ? null : new InvalidOperationException(
                $"The process function completed without an outcome for {unsettled} of the batch's " +
                $"{batch.Count} records; it must give each record a result or an exception.");
            if (error is not null)
            {
                outcome.AddFailures(batch.FailUnsettled(error), error);
            }

            return true;
        }
    }
}

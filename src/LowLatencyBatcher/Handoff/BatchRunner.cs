using System.Runtime.CompilerServices;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// Runs batches through the process function for one worker: claims a batch's live records, calls the function,
/// settles and counts every record (retrying a failing batch in halves when failure isolation is on), and reports
/// the batch to the observer. Releasing the outcomes to the callers is the worker's part.
/// </summary>
/// <remarks>
/// Aborted stops: the batch in hand is published in <c>_current</c> with an exchange before the abort flag is read;
/// the stopping thread sets the flag before it exchanges <c>_current</c> out (<see cref="TakeCurrentBatch"/>).
/// Whoever takes the batch out of <c>_current</c> owns it: the stopping thread fails its records and drops it, the
/// worker recycles it.
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class BatchRunner<TRecord, TResult>
{
    private readonly ProcessCall<TRecord, TResult> _call;
    private readonly LiveSettings<TRecord> _live;
    private readonly RunLifetime _run;
    private readonly BatchPool<TRecord, TResult> _batches;
    private readonly BatcherCounters _counters;
    private readonly TimeProvider _time;
    private readonly WorkerTally _tally;
    private readonly Action<Batch<TRecord, TResult>> _recycle;
    private Batch<TRecord, TResult>? _current;
    private BatchOutcome _outcome;

    /// <summary>Creates the runner of one worker.</summary>
    public BatchRunner(
        ProcessCall<TRecord, TResult> call,
        LiveSettings<TRecord> live,
        RunLifetime run,
        BatchPool<TRecord, TResult> batches,
        BatcherCounters counters)
    {
        _call = call;
        _live = live;
        _run = run;
        _batches = batches;
        _counters = counters;
        _time = live.Current.TimeProvider; // fixed at creation
        _tally = counters.NewWorkerTally();
        _recycle = batches.Return;
    }

    /// <summary>The batch just run, waiting for its report and the release of its callers (none: nothing ran).</summary>
    public FinishedBatch<TRecord, TResult> Finished { get; private set; }

    /// <summary>Takes the batch in hand away from the worker (an aborted stop); null when it holds none.</summary>
    public Batch<TRecord, TResult>? TakeCurrentBatch() => Interlocked.Exchange(ref _current, null);

    /// <summary>
    /// Runs one batch through the process function, settles and counts its records, and keeps it in
    /// <see cref="Finished"/>. Completes synchronously when the process function does. <paramref name="started"/>: when
    /// the batch started, on the batcher's clock (0: now).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RunAsync(Batch<TRecord, TResult> batch, long started = 0)
    {
        if (!BeginBatch(batch))
        {
            return;
        }

        if (started == 0)
        {
            started = _time.GetTimestamp();
        }

        _counters.Busy.Enter(_counters.MicrosecondsAt(started));
        IReadOnlyList<TResult>? results = null;
        Exception? error = null;
        try
        {
            results = await _call.InvokeAsync(batch.View, _run.ProcessCancellation);
        }
        catch (Exception e)
        {
            error = e;
        }

        if (!_call.Settle(batch.View, results, error, _live.Current.IsolateFailures, ref _outcome))
        {
            await IsolateAsync(batch.View, batch.View.GatherUnsettled()); // the failure path: may allocate
        }

        long ended = _time.GetTimestamp();
        _counters.Busy.Exit(_counters.MicrosecondsAt(ended));
        EndBatch(batch, started, ended);
    }

    /// <summary>Takes <see cref="Finished"/> and reports it to the observer, if one is set.</summary>
    public FinishedBatch<TRecord, TResult> TakeFinished()
    {
        var finished = Finished;
        Finished = default;
        if (finished.Batch is { } batch && _live.Current.Observer is { } observer)
        {
            Report(observer, batch, finished);
        }

        return finished;
    }

    private void Report(IBatchObserver observer, Batch<TRecord, TResult> batch, in FinishedBatch<TRecord, TResult> finished)
    {
        try
        {
            observer.OnBatchCompleted(new BatchReport
            {
                Records = batch.View.LiveCount,
                Cost = batch.View.LiveCost,
                Reason = batch.Reason,
                Duration = _time.GetElapsedTime(finished.Started, finished.Ended),
                Error = finished.Error,
                SubmitTimestamps = batch.View.LiveArrivals,
                CompletedTimestamp = _time.GetTimestamp(),
            });
        }
        catch (Exception)
        {
            // Documented on IBatchObserver: an observer must never fail records or stop a worker.
        }
    }

    /// <summary>Claims the batch's live records; false when there is nothing to run (the batch was dealt with).</summary>
    private bool BeginBatch(Batch<TRecord, TResult> batch)
    {
        Interlocked.Exchange(ref _current, batch); // full fence before the abort flag is read (see the remarks)
        if (_run.IsAborting)
        {
            if (TakeCurrentBatch() == batch)
            {
                batch.FailAll(_run.AbortError);
                _batches.Return(batch);
            }

            return false;
        }

        if (batch.View.ClaimLiveRecords() == 0)
        {
            if (TakeCurrentBatch() == batch)
            {
                _batches.Return(batch); // every record was cancelled while it waited
            }

            return false;
        }

        _tally.AddBatch(batch.View.Count, batch.View.LiveCost, batch.Reason);
        return true;
    }

    /// <summary>
    /// Failure isolation: retries the <paramref name="count"/> records at the front of the window in two halves, each
    /// half again in halves while it fails, so only a record that fails in a call of its own gets the exception. One
    /// bad record among n costs about 2·log2(n) extra calls.
    /// </summary>
    private async ValueTask IsolateAsync(RecordView<TRecord, TResult> view, int count)
    {
        int start = view.WindowStart;
        if (count == 1)
        {
            await RunPartAsync(view, start, 1);
            return;
        }

        int half = count / 2;
        await RunPartAsync(view, start, half);
        await RunPartAsync(view, start + half, count - half);
    }

    private async ValueTask RunPartAsync(RecordView<TRecord, TResult> view, int start, int count)
    {
        view.SetWindow(start, count);
        IReadOnlyList<TResult>? results = null;
        Exception? error = null;
        try
        {
            results = await _call.InvokeAsync(view, _run.ProcessCancellation);
        }
        catch (Exception e)
        {
            error = e;
        }

        if (!_call.Settle(view, results, error, isolating: count > 1, ref _outcome))
        {
            await IsolateAsync(view, view.GatherUnsettled());
        }
    }

    /// <summary>Counts the batch's outcome and keeps what the observer and the callers are to be given next.</summary>
    private void EndBatch(Batch<TRecord, TResult> batch, long started, long ended)
    {
        _tally.AddOutcome(_outcome.Completed, _outcome.Failed);
        Finished = new FinishedBatch<TRecord, TResult>(
            batch, _outcome.FirstError, started, ended, TakeCurrentBatch() == batch ? _recycle : null);
        _outcome = default;
    }
}

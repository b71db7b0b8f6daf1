using System.Runtime.CompilerServices;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// Runs batches through the process function for one worker: claims a batch's live records, calls the function,
/// settles and counts every record (retrying a failing batch in halves when failure isolation is on), and reports
/// the batch to the observer. Releasing the outcomes to the callers is the worker's part. Also runs the idle fast
/// path's lone records without a batch (<see cref="RunLone"/>), counted and reported as batches of one.
/// </summary>
/// <remarks>
/// <para>Aborted stops: the batch in hand is published in <c>_current</c> with an exchange before the abort flag is
/// read; the stopping thread sets the flag before it exchanges <c>_current</c> out (<see cref="TakeCurrentBatch"/>).
/// Whoever takes the batch out of <c>_current</c> owns it: the stopping thread fails its records and drops it, the
/// worker recycles it. A lone record whose call went asynchronous is published in <c>_loneInHand</c> the same way.</para>
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
    private readonly CompletionPool<TResult> _completions;
    private readonly LoneRecord<TRecord> _lone = new();
    private Batch<TRecord, TResult>? _current;
    private BatchOutcome _outcome;

    // A lone record whose call went asynchronous: the call, its cost and start, and the completion its caller waits on
    // (with the generation it was rented at). Written by the borrowing submitter before _loneInHand publishes them.
    private ValueTask<IReadOnlyList<TResult>> _loneCall;
    private long _loneCost;
    private long _loneStarted;
    private int _loneGeneration;
    private RecordCompletion<TResult>? _loneInHand;

    /// <summary>Creates the runner of one worker.</summary>
    public BatchRunner(
        ProcessCall<TRecord, TResult> call,
        LiveSettings<TRecord> live,
        RunLifetime run,
        BatchPool<TRecord, TResult> batches,
        CompletionPool<TResult> completions,
        BatcherCounters counters)
    {
        _call = call;
        _completions = completions;
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
            Report(observer, batch.View.LiveCount, batch.View.LiveCost, batch.Reason, finished.Error, finished.Started, finished.Ended, batch.View.LiveArrivals);
        }

        return finished;
    }

    /// <summary>
    /// Runs a lone record without a batch (the idle fast path, list-shaped function, for the submitter that borrowed
    /// the worker): counts a batch of one, dispatched eagerly, and calls the function on the calling thread. True when
    /// the call completed synchronously: the record's outcome is in <paramref name="result"/>, counted and reported,
    /// and <paramref name="ended"/> is when the call ended. False when it went asynchronous: <paramref name="result"/>
    /// is a pooled completion's task, armed with the caller's <paramref name="token"/>, and
    /// <paramref name="onCompleted"/> runs <see cref="FinishPendingLone"/> when the call completes;
    /// <paramref name="ended"/> is now.
    /// </summary>
    public bool RunLone(
        ProcessFn<TRecord, TResult> function,
        TRecord record,
        long cost,
        long started,
        CancellationToken token,
        Action onCompleted,
        out ValueTask<TResult> result,
        out long ended)
    {
        _tally.AddBatch(1, cost, DispatchReason.Eager);
        _counters.Busy.Enter(_counters.MicrosecondsAt(started));
        _lone.Show(record);
        ValueTask<IReadOnlyList<TResult>> call;
        try
        {
            call = function(_lone, _run.ProcessCancellation);
        }
        catch (Exception e)
        {
            call = ValueTask.FromException<IReadOnlyList<TResult>>(e); // the failure path: may allocate
        }

        if (call.IsCompleted)
        {
            ended = EndLone(call, cost, started, counted: true, out var value, out var error);
            result = error is null ? new ValueTask<TResult>(value) : ValueTask.FromException<TResult>(error);
            return true;
        }

        var completion = _completions.Rent();
        int generation = completion.Generation;
        completion.TryStartRunning(generation); // just rented, so queued: from now on a cancellation drops the result
        (_loneCall, _loneCost, _loneStarted, _loneGeneration) = (call, cost, started, generation);
        Interlocked.Exchange(ref _loneInHand, completion); // full fence before the abort flag is read (see the remarks)
        if (_run.IsAborting)
        {
            FailLoneInHand(_run.AbortError);
        }

        result = completion.Task;
        call.GetAwaiter().UnsafeOnCompleted(onCompleted);
        completion.Arm(token); // the record may have completed already: Arm then only takes its registration off
        ended = _time.GetTimestamp();
        return false;
    }

    /// <summary>
    /// Ends a lone record's asynchronous call (see <see cref="RunLone"/>): gives the waiting caller the outcome, unless
    /// its cancellation or an aborted stop completed the record first, and counts and reports the batch of one.
    /// </summary>
    public void FinishPendingLone()
    {
        var call = _loneCall;
        _loneCall = default;
        var completion = Interlocked.Exchange(ref _loneInHand, null); // whoever takes it out owns it: null when an aborted stop failed it
        bool claimed = completion is not null && completion.TryClaim(_loneGeneration); // false when its caller cancelled it first
        EndLone(call, _loneCost, _loneStarted, counted: claimed, out var result, out var error);
        if (claimed)
        {
            if (error is null)
            {
                completion!.Hold(result);
            }
            else
            {
                completion!.Hold(error);
            }

            completion.Release(inline: false);
        }
    }

    /// <summary>
    /// Fails the lone record whose call went asynchronous, if there is one (an aborted stop). Its generation is still
    /// the one published: no lone record starts once the intake is closed, which a stop does before it aborts.
    /// </summary>
    public void FailLoneInHand(Exception error)
    {
        if (Interlocked.Exchange(ref _loneInHand, null) is { } completion) // whoever takes it out owns it (see the remarks)
        {
            completion.TryCancel(_loneGeneration, error);
        }
    }

    /// <summary>
    /// Takes a lone call's outcome once it completed: its one result, or the error that fails the record. Counts the
    /// record when <paramref name="counted"/> (not when its caller or an aborted stop completed it first) and reports
    /// the batch of one. Returns when the call ended.
    /// </summary>
    private long EndLone(
        ValueTask<IReadOnlyList<TResult>> call, long cost, long started, bool counted, out TResult result, out Exception? error)
    {
        result = default!;
        try
        {
            var results = call.GetAwaiter().GetResult();
            error = ProcessCall<TRecord, TResult>.CheckResults(results, 1);
            if (error is null)
            {
                result = results[0];
            }
        }
        catch (Exception e)
        {
            error = e;
        }

        _lone.Clear();
        long ended = _time.GetTimestamp();
        _counters.Busy.Exit(_counters.MicrosecondsAt(ended));
        if (counted)
        {
            _tally.AddOutcome(1, error is null ? 0 : 1);
        }

        if (_live.Current.Observer is { } observer)
        {
            Report(observer, 1, cost, DispatchReason.Eager, error, started, ended, new ReadOnlySpan<long>(in started));
        }

        return ended;
    }

    private void Report(
        IBatchObserver observer,
        int records,
        long cost,
        DispatchReason reason,
        Exception? error,
        long started,
        long ended,
        ReadOnlySpan<long> arrivals)
    {
        try
        {
            observer.OnBatchCompleted(new BatchReport
            {
                Records = records,
                Cost = cost,
                Reason = reason,
                Duration = _time.GetElapsedTime(started, ended),
                Error = error,
                SubmitTimestamps = arrivals,
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

using System.Runtime.CompilerServices;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// One consumer of the prefetch ring: takes sealed batches and runs the process function on them, one at a time.
/// While it is parked, a submitter may borrow it to run a lone record itself (the idle fast path).
/// </summary>
/// <remarks>
/// <para>States: <c>Busy</c> (running, or about to), <c>Announced</c> (flagged as parked, re-checking the ring),
/// <c>Parked</c> (waiting for its signal), <c>Borrowed</c> (parked, and a submitter runs a batch in its name). A
/// worker is woken (by whoever dispatched a batch: the packing thread, a resumer that packed, a submitter giving a
/// borrowed worker back) by moving it from <c>Announced</c> or <c>Parked</c> to <c>Busy</c> with a CAS and then
/// setting its signal; a worker that finds a batch in its re-check moves itself from <c>Announced</c> to <c>Busy</c>,
/// and if a waker won that CAS first it still consumes the one wake-up, so every wake is
/// consumed before the signal is reset again. A submitter borrows only a <c>Parked</c> worker (never one re-checking),
/// so a worker never runs a batch while it is borrowed; the submitter puts it back to <c>Parked</c> and wakes it if
/// a batch arrived meanwhile.</para>
/// <para>Aborted stops: the batch in hand is published in <c>_current</c> with an exchange before the abort flag is
/// read; the stopping thread sets the flag before it exchanges <c>_current</c> out. Whoever takes the batch out of
/// <c>_current</c> owns it: the stopping thread fails its records and drops it, the worker recycles it.</para>
/// </remarks>
internal sealed class Worker<TRecord, TResult>
{
    private const int Busy = 0;
    private const int Announced = 1;
    private const int Parked = 2;
    private const int Borrowed = 3;
    private const int SpinsForWake = 20;

    private readonly Pipeline<TRecord, TResult> _pipeline;
    private readonly WorkerSignal _signal = new();
    private readonly Action<Batch<TRecord, TResult>> _recycle;
    private readonly Action _finishBorrowed;
    private readonly WorkerTally _tally;
    private Batch<TRecord, TResult>? _current;
    private int _state;
    private ValueTask _borrowedRun; // the run of a borrowing submitter that went asynchronous

    // The last batch of the worker's own loop, whose callers wait to be resumed (see RunAsync) and what recycles it.
    private FinishedBatch _finished;
    private Batch<TRecord, TResult>? _waitingCallers;
    private int _owesCallers; // 1 from the end of a batch until its callers are resumed (or handed to the pool)
    private readonly Action<Batch<TRecord, TResult>> _recycleThenPack;
    private readonly Action<Batch<TRecord, TResult>> _packAfterRelease;
    private Action<Batch<TRecord, TResult>>? _waitingRecycle;

    // The outcome of the batch in hand, summed over its calls (several when failure isolation retries it).
    private int _completed;
    private int _failed;
    private Exception? _firstError;

    /// <summary>What one call of the process function gave: its results (list-returning shape), or what it threw.</summary>
    private readonly record struct CallResult(IReadOnlyList<TResult>? Results, Exception? Error);

    /// <summary>Creates a worker of <paramref name="pipeline"/>.</summary>
    public Worker(Pipeline<TRecord, TResult> pipeline)
    {
        _pipeline = pipeline;
        _recycle = pipeline.ReturnBatch;
        _recycleThenPack = batch =>
        {
            pipeline.ReturnBatch(batch);
            PackAfterResuming(pipeline);
        };
        _packAfterRelease = _ => PackAfterResuming(pipeline);
        _tally = pipeline.Counters.NewWorkerTally();
        _finishBorrowed = FinishBorrowed;
    }

    /// <summary>True while the worker waits for a batch (and is not borrowed).</summary>
    /// <remarks>
    /// A worker that has not resumed its last batch's callers yet is not idle: those callers are about to submit again,
    /// and an eager batch sent now would leave their records for the next one (rule 3).
    /// </remarks>
    public bool IsIdle => Volatile.Read(ref _state) is Announced or Parked && Volatile.Read(ref _owesCallers) == 0;

    /// <summary>True while the worker waits for its signal and may be borrowed.</summary>
    public bool IsParked => Volatile.Read(ref _state) == Parked;

    /// <summary>Starts the worker's loop on the thread pool.</summary>
    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Wakes the worker if it is parked (after a batch was dispatched, or at the end of a run). Returns whether it was.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryWake()
    {
        int state = Volatile.Read(ref _state);
        while (state is Announced or Parked)
        {
            int seen = Interlocked.CompareExchange(ref _state, Busy, state);
            if (seen == state)
            {
                _signal.Set();
                return true;
            }

            state = seen; // it moved from Announced to Parked (or was borrowed): look again
        }

        return false;
    }

    /// <summary>
    /// Borrows the parked worker for a submitter that runs a batch itself (the idle fast path). The CAS is the
    /// claim: a borrowed worker is neither idle nor wakeable until <see cref="GiveBack"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryBorrow() =>
        Volatile.Read(ref _state) == Parked && Interlocked.CompareExchange(ref _state, Borrowed, Parked) == Parked;

    /// <summary>
    /// Runs <paramref name="batch"/> on the calling thread for the submitter that borrowed this worker, and gives the
    /// worker back once the batch is done: right away when the process function completed synchronously, else from
    /// the thread that completes it (no allocation either way: the awaiter's callback is cached). Returns the
    /// timestamp, on the batcher's clock, at which the calling thread was let go.
    /// </summary>
    /// <param name="batch">The batch of one.</param>
    /// <param name="started">When the batch started: its record's submit.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public long RunBorrowed(Batch<TRecord, TResult> batch, long started)
    {
        var run = RunBatchAsync(batch, started);
        if (run.IsCompleted)
        {
            run.GetAwaiter().GetResult();
            long ended = _finished.Ended; // the process call ended: only bookkeeping is left
            FinishBatch(borrowed: true);
            GiveBack();
            return ended == 0 ? started : ended;
        }

        _borrowedRun = run; // one borrowed run at a time: the worker is ours until GiveBack
        run.GetAwaiter().UnsafeOnCompleted(_finishBorrowed);
        return _pipeline.Settings.TimeProvider.GetTimestamp();
    }

    private void FinishBorrowed()
    {
        var run = _borrowedRun;
        _borrowedRun = default;
        try
        {
            run.GetAwaiter().GetResult(); // returns the run's pooled state machine
            FinishBatch(borrowed: true);
        }
        finally
        {
            GiveBack();
        }
    }

    /// <summary>
    /// Returns a borrowed worker to its parked state; wakes it when a batch (or the end of the run) arrived while it
    /// was borrowed, and lets the packing thread know a worker is idle again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GiveBack()
    {
        // Full fence: the store is ordered before the reads of the ring below, and the packing thread publishes a
        // batch with a full fence before it reads our state (Dekker): one of us sees the other.
        Interlocked.Exchange(ref _state, Parked);
        var prefetch = _pipeline.Prefetch;
        if (!prefetch.IsEmpty || prefetch.IsCompleted)
        {
            TryWake();
        }

        WakePackerIfHolding();
    }

    /// <summary>Takes the batch in hand away from the worker (an aborted stop); null when it holds none.</summary>
    public Batch<TRecord, TResult>? TakeCurrentBatch() => Interlocked.Exchange(ref _current, null);

    private async Task RunAsync()
    {
        var prefetch = _pipeline.Prefetch;
        try
        {
            while (true)
            {
                if (!prefetch.TryDequeue(out var batch))
                {
                    if (prefetch.IsCompleted)
                    {
                        ResumeWaitingCallers();
                        if (!prefetch.TryDequeue(out batch))
                        {
                            return; // the packing thread is done and nothing is left
                        }
                    }
                    else
                    {
                        _signal.Reset();
                        Interlocked.Exchange(ref _state, Announced); // full fence before the re-check below
                        bool found = prefetch.TryDequeue(out batch);
                        if (!found && !prefetch.IsCompleted)
                        {
                            // Parked from here: borrowable. If the packing thread already woke us, the CAS fails and
                            // the wait below consumes that wake-up. The callers of the last batch are resumed only now,
                            // by one pool work item queued to this thread, which runs it as soon as the await below gives
                            // the thread back: callers' code never runs inside the worker, so a continuation that
                            // blocks cannot stop the batches. The resumer then packs their new records itself.
                            Interlocked.CompareExchange(ref _state, Parked, Announced); // a full fence either way
                            if (!ResumeWaitingCallers() && _pipeline.Packer.HoldsRecords && !_pipeline.Packer.TryPackFromWorker())
                            {
                                SpinForWake(); // the packing thread has the token: it packs them, and wakes us if so
                            }

                            await _signal.WaitAsync();
                            continue;
                        }

                        if (Interlocked.CompareExchange(ref _state, Busy, Announced) != Announced)
                        {
                            await _signal.WaitAsync(); // the packing thread already claimed our wake-up: consume it
                        }

                        if (!found)
                        {
                            continue;
                        }
                    }
                }

                ResumeWaitingCallers(); // more work came: the callers must not wait for it
                WakePackerIfHolding(); // the dequeue's CAS was the full fence: a prefetch slot is free
                await RunBatchAsync(batch);
                FinishBatch(borrowed: false);
            }
        }
        finally
        {
            _pipeline.OnWorkerExited();
        }
    }

    /// <summary>
    /// Hands the last batch's outcomes to its callers, if they still wait (the worker's own loop): one pool work item
    /// resumes them in turn and then packs what they submitted. True when there were callers to resume.
    /// </summary>
    private bool ResumeWaitingCallers()
    {
        if (_waitingCallers is not { } batch)
        {
            return false;
        }

        _waitingCallers = null;
        var recycle = _waitingRecycle;
        _waitingRecycle = null;
        Interlocked.Exchange(ref _owesCallers, 0);
        batch.ReleaseHeld(CallerResumption.Queue, recycle is null ? _packAfterRelease : _recycleThenPack);
        return true;
    }

    /// <summary>
    /// The end of a resumption handed to the pool: the resumer no longer holds the packing thread back, and packs
    /// what its callers submitted itself (or wakes the packing thread, when that one holds the token).
    /// </summary>
    private static void PackAfterResuming(Pipeline<TRecord, TResult> pipeline)
    {
        pipeline.Packer.RemovePackingResumer();
        pipeline.Packer.TryPackFromWorker();
    }

    /// <summary>
    /// Waits a moment for the packing thread, which holds the token and is packing the records this idle worker could
    /// not pack itself, before giving the thread back: when it wakes this worker within the spin, the await that
    /// follows completes at once and the batch runs with no thread-pool hop. Yields the processor rather than burning
    /// it while spinning.
    /// </summary>
    private void SpinForWake()
    {
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _state) == Parked && spinner.Count < SpinsForWake)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// An idle worker lets an open batch go out eagerly (rule 3), and a freed prefetch slot lets a full one out (rule
    /// 4): wake the packing thread if it parked holding records. Called after the full fence that made this worker's
    /// change visible (see <see cref="PackingLoop{TRecord, TResult}.HoldsRecords"/>).
    /// </summary>
    private void WakePackerIfHolding()
    {
        if (_pipeline.Packer.HoldsRecords)
        {
            _pipeline.Packer.Parker.Unpark();
        }
    }

    /// <summary>
    /// Runs one batch through the process function, settles and counts its records: for the worker's own loop, or for
    /// a submitter that borrowed this worker. Completes synchronously when the process function does. The caller then
    /// calls <see cref="FinishBatch"/>. <paramref name="started"/>: when the batch started, on the batcher's clock
    /// (0: now).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RunBatchAsync(Batch<TRecord, TResult> batch, long started = 0)
    {
        if (!BeginBatch(batch))
        {
            return;
        }

        var counters = _pipeline.Counters;
        var time = _pipeline.Settings.TimeProvider;
        if (started == 0)
        {
            started = time.GetTimestamp();
        }

        counters.Busy.Enter(counters.MicrosecondsAt(started));
        // Called inline, not through CallAsync: the process function runs directly in the worker's own context.
        IReadOnlyList<TResult>? results = null;
        Exception? error = null;
        try
        {
            if (_pipeline.ProcessEach is { } processEach)
            {
                await processEach(batch, _pipeline.ProcessCancellation);
            }
            else
            {
                results = await _pipeline.ProcessFn!(batch, _pipeline.ProcessCancellation);
            }
        }
        catch (Exception e)
        {
            error = e;
        }

        if (!Settle(batch, results, error, isolating: _pipeline.IsolateFailures))
        {
            await IsolateAsync(batch, batch.GatherUnsettled()); // the failure path: may allocate
        }

        long ended = time.GetTimestamp();
        counters.Busy.Exit(counters.MicrosecondsAt(ended));
        EndBatch(batch, started, ended);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Report(Batch<TRecord, TResult> batch, Exception? error, long started, long ended)
    {
        if (_pipeline.Observer is not { } observer)
        {
            return;
        }

        try
        {
            observer.OnBatchCompleted(new BatchReport
            {
                Records = batch.LiveCount,
                Cost = batch.LiveCost,
                Reason = batch.Reason,
                Duration = _pipeline.Settings.TimeProvider.GetElapsedTime(started, ended),
                Error = error,
                SubmitTimestamps = batch.LiveArrivals,
                CompletedTimestamp = _pipeline.Settings.TimeProvider.GetTimestamp(),
            });
        }
        catch (Exception)
        {
            // Documented on IBatchObserver: an observer must never fail records or stop a worker.
        }
    }

    /// <summary>Claims the batch's live records; false when there is nothing to run (the batch was dealt with).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool BeginBatch(Batch<TRecord, TResult> batch)
    {
        Interlocked.Exchange(ref _current, batch); // full fence before the abort flag is read (see the remarks)
        if (_pipeline.IsAborting)
        {
            if (TakeCurrentBatch() == batch)
            {
                batch.FailAll(_pipeline.AbortError);
                _pipeline.ReturnBatch(batch);
            }

            return false;
        }

        if (batch.ClaimLiveRecords() == 0)
        {
            if (TakeCurrentBatch() == batch)
            {
                _pipeline.ReturnBatch(batch); // every record was cancelled while it waited
            }

            return false;
        }

        _tally.AddBatch(batch.Count, batch.LiveCost, batch.Reason);
        return true;
    }

    /// <summary>
    /// Gives the window's records the outcome of one call. False (nothing settled) when the call threw, failure
    /// isolation is on, and more than one record is left without an outcome: they are to be retried in halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Settle(Batch<TRecord, TResult> batch, IReadOnlyList<TResult>? results, Exception? error, bool isolating)
    {
        if (_pipeline.ProcessEach is not null)
        {
            // A call of several records that threw: retry those left without an outcome, even a single one, since
            // it has not failed in a call of its own yet.
            if (error is not null && isolating && batch.Count > 1 && batch.GatherUnsettled() > 0)
            {
                return false;
            }

            error ??= batch.CountUnsettled() == 0 ? null : new InvalidOperationException(
                $"The process function completed without an outcome for {batch.CountUnsettled()} of the batch's " +
                $"{batch.Count} records; it must give each record a result or an exception.");
        }
        else if (error is null)
        {
            int? resultCount;
            try
            {
                resultCount = results?.Count;
            }
            catch (Exception e)
            {
                resultCount = null;
                error = e;
            }

            if (error is null && resultCount != batch.Count)
            {
                error = new InvalidOperationException(
                    $"The process function returned {(resultCount is int n ? n.ToString() : "null")} results for a batch " +
                    $"of {batch.Count} records; it must return exactly one result per record.");
            }
            else if (error is null)
            {
                _completed += batch.CompleteWith(results!);
                return true;
            }
        }
        else if (isolating && batch.Count > 1)
        {
            return false;
        }

        if (error is not null)
        {
            int failed = batch.FailUnsettled(error);
            _completed += failed;
            _failed += failed;
            _firstError ??= error;
        }

        return true;
    }

    /// <summary>
    /// Failure isolation: retries the <paramref name="count"/> records at the front of the window in two halves, each
    /// half again in halves while it fails, so only a record that fails in a call of its own gets the exception. One
    /// bad record among n costs about 2·log2(n) extra calls.
    /// </summary>
    private async ValueTask IsolateAsync(Batch<TRecord, TResult> batch, int count)
    {
        int start = batch.WindowStart;
        if (count == 1)
        {
            await RunPartAsync(batch, start, 1);
            return;
        }

        int half = count / 2;
        await RunPartAsync(batch, start, half);
        await RunPartAsync(batch, start + half, count - half);
    }

    private async ValueTask RunPartAsync(Batch<TRecord, TResult> batch, int start, int count)
    {
        batch.SetWindow(start, count);
        var call = await CallAsync(batch);
        if (!Settle(batch, call.Results, call.Error, isolating: count > 1))
        {
            await IsolateAsync(batch, batch.GatherUnsettled());
        }
    }

    /// <summary>Runs the process function once on the batch's window (the isolation retries).</summary>
    private async ValueTask<CallResult> CallAsync(Batch<TRecord, TResult> batch)
    {
        try
        {
            if (_pipeline.ProcessEach is { } processEach)
            {
                await processEach(batch, _pipeline.ProcessCancellation);
                return default;
            }

            return new CallResult(await _pipeline.ProcessFn!(batch, _pipeline.ProcessCancellation), null);
        }
        catch (Exception e)
        {
            return new CallResult(null, e);
        }
    }

    /// <summary>Counts the batch's outcome and keeps what the observer and the callers are to be given next.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EndBatch(Batch<TRecord, TResult> batch, long started, long ended)
    {
        _tally.AddOutcome(_completed, _failed);
        _finished = new FinishedBatch(batch, _firstError, started, ended, TakeCurrentBatch() == batch ? _recycle : null);
        _completed = 0;
        _failed = 0;
        _firstError = null;
    }

    /// <summary>
    /// Reports the batch just run to the observer, then lets its callers have their outcomes: counted first, so a
    /// caller that has its result finds it in the stats. Called from the flow that runs the batches (the worker's own
    /// loop, or the borrowing submitter), so the observer runs there too. A borrowing submitter releases on its own
    /// thread (its caller may not even be waiting yet); the worker's loop keeps the batch until it parks or takes its
    /// next batch, then hands its callers to one pool work item (see <see cref="ResumeWaitingCallers"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FinishBatch(bool borrowed)
    {
        var finished = _finished;
        _finished = default;
        if (finished.Batch is not { } batch)
        {
            return; // nothing ran (every record had been cancelled, or a stop was aborted)
        }

        Report(batch, finished.Error, finished.Started, finished.Ended);
        if (borrowed)
        {
            batch.ReleaseHeld(CallerResumption.Direct, finished.Recycle);
            return;
        }

        // Until those callers are resumed this worker is not idle, and their new records need no wake of the packing
        // thread: whoever resumes them packs right after (rule 3, and see PackingLoop.ResumerWillPack).
        Volatile.Write(ref _owesCallers, 1);
        _pipeline.Packer.AddPackingResumer(); // a full fence: the flag is visible before any caller is resumed
        _waitingCallers = batch;
        _waitingRecycle = finished.Recycle;
    }

    /// <summary>A batch whose process call is over, waiting for its report and the release of its callers.</summary>
    private readonly record struct FinishedBatch(
        Batch<TRecord, TResult>? Batch, Exception? Error, long Started, long Ended, Action<Batch<TRecord, TResult>>? Recycle);
}

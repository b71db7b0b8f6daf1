using System.Diagnostics;
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
/// <para>Running a batch (the process call, settling, counting, the observer) is its <see cref="Runner"/>'s job; the
/// worker decides when, and how the batch's callers are resumed.</para>
/// </remarks>
internal sealed class Worker<TRecord, TResult>
{
    private const int Busy = 0;
    private const int Announced = 1;
    private const int Parked = 2;
    private const int Borrowed = 3;
    private const int SpinsForWake = 20;

    private readonly BatchRing<Batch<TRecord, TResult>> _prefetch;
    private readonly IPackingSide _packer;
    private readonly RunLifetime _run;
    private readonly TimeProvider _time;
    private readonly WorkerSignal _signal = new();
    private readonly Action _finishBorrowed;
    private int _state;
    private ValueTask _borrowedRun; // the run of a borrowing submitter that went asynchronous

    // The last batch of the worker's own loop, whose callers wait to be resumed (see RunAsync), and what recycles it.
    private Batch<TRecord, TResult>? _waitingCallers;
    private Action<Batch<TRecord, TResult>>? _waitingRecycle;
    private int _owesCallers; // 1 from the end of a batch until its callers are resumed (or handed to the pool)
    private readonly Action<Batch<TRecord, TResult>> _recycleThenPack;
    private readonly Action<Batch<TRecord, TResult>> _packAfterRelease;

    /// <summary>Creates a worker that takes batches from <paramref name="prefetch"/> and runs them with <paramref name="runner"/>.</summary>
    public Worker(
        BatchRing<Batch<TRecord, TResult>> prefetch,
        IPackingSide packer,
        RunLifetime run,
        BatchPool<TRecord, TResult> batches,
        BatchRunner<TRecord, TResult> runner,
        TimeProvider time)
    {
        _prefetch = prefetch;
        _packer = packer;
        _run = run;
        _time = time;
        Runner = runner;
        _recycleThenPack = batch =>
        {
            batches.Return(batch);
            PackAfterResuming(packer);
        };
        _packAfterRelease = _ => PackAfterResuming(packer);
        _finishBorrowed = FinishBorrowed;
    }

    /// <summary>Runs the worker's batches through the process function.</summary>
    public BatchRunner<TRecord, TResult> Runner { get; }

    /// <summary>True while the worker waits for a batch (and is not borrowed).</summary>
    /// <remarks>
    /// A worker that has not resumed its last batch's callers yet is not idle: those callers are about to submit again,
    /// and an eager batch sent now would leave their records for the next one (rule 3).
    /// </remarks>
    public bool IsIdle => Volatile.Read(ref _state) is Announced or Parked && Volatile.Read(ref _owesCallers) == 0;

    /// <summary>True while the worker waits for its signal and may be borrowed.</summary>
    public bool IsParked => Volatile.Read(ref _state) == Parked;

    /// <summary>The worker's state in words (diagnostics: a racy snapshot).</summary>
    public string Describe() =>
        $"{Volatile.Read(ref _state) switch { Busy => "busy", Announced => "announced", Parked => "parked", _ => "borrowed" }}" +
        $"{(Volatile.Read(ref _owesCallers) != 0 ? ", owes callers" : "")}";

    /// <summary>Starts the worker's loop on the thread pool.</summary>
    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Wakes the worker if it is parked (after a batch was dispatched, or at the end of a run). Returns whether it was.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryWake()
    {
        int state = Volatile.Read(ref _state); // a first look; the CAS below decides
        while (state is Announced or Parked)
        {
            int seen = Interlocked.CompareExchange(ref _state, Busy, state); // CAS: one waker wins the worker, and it alone sets the signal
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
        Debug.Assert(Volatile.Read(ref _state) == Borrowed, "only the submitter that borrowed the worker runs in its name");
        var run = Runner.RunAsync(batch, started);
        if (run.IsCompleted)
        {
            run.GetAwaiter().GetResult();
            long ended = Runner.Finished.Ended; // the process call ended: only bookkeeping is left
            FinishBatch(borrowed: true);
            GiveBack();
            return ended == 0 ? started : ended;
        }

        _borrowedRun = run; // one borrowed run at a time: the worker is ours until GiveBack
        run.GetAwaiter().UnsafeOnCompleted(_finishBorrowed);
        return _time.GetTimestamp();
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
        Debug.Assert(Volatile.Read(ref _state) == Borrowed, "only a borrowed worker is given back");
        // Full fence: the store is ordered before the reads of the ring below, and the packing thread publishes a
        // batch with a full fence before it reads our state (Dekker): one of us sees the other.
        Interlocked.Exchange(ref _state, Parked);
        if (!_prefetch.IsEmpty || _prefetch.IsCompleted)
        {
            TryWake();
        }

        WakePackerIfHolding();
    }

    private async Task RunAsync()
    {
        var prefetch = _prefetch;
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
                            if (!ResumeWaitingCallers() && _packer.HoldsRecords && !_packer.TryPackFromWorker())
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
                await Runner.RunAsync(batch);
                FinishBatch(borrowed: false);
            }
        }
        finally
        {
            _run.OnWorkerExited();
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
        Interlocked.Exchange(ref _owesCallers, 0); // full fence: the flag clears before the callers are handed on
        batch.Outcomes.Release(CallerResumption.Queue, recycle is null ? _packAfterRelease : _recycleThenPack);
        return true;
    }

    /// <summary>
    /// The end of a resumption handed to the pool: the resumer no longer holds the packing thread back, and packs
    /// what its callers submitted itself (or wakes the packing thread, when that one holds the token).
    /// </summary>
    private static void PackAfterResuming(IPackingSide packer)
    {
        packer.RemovePackingResumer();
        packer.TryPackFromWorker();
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
        while (Volatile.Read(ref _state) == Parked && spinner.Count < SpinsForWake) // a waker's CAS moves us to Busy
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// An idle worker lets an open batch go out eagerly (rule 3), and a freed prefetch slot lets a full one out (rule
    /// 4): wake the packing thread if it parked holding records. Called after the full fence that made this worker's
    /// change visible (see <see cref="IPackingSide.HoldsRecords"/>).
    /// </summary>
    private void WakePackerIfHolding()
    {
        if (_packer.HoldsRecords)
        {
            _packer.Wake();
        }
    }

    /// <summary>
    /// Reports the batch just run to the observer (through the runner), then lets its callers have their outcomes: counted first, so a
    /// caller that has its result finds it in the stats. Called from the flow that runs the batches (the worker's own
    /// loop, or the borrowing submitter), so the observer runs there too. A borrowing submitter releases on its own
    /// thread (its caller may not even be waiting yet); the worker's loop keeps the batch until it parks or takes its
    /// next batch, then hands its callers to one pool work item (see <see cref="ResumeWaitingCallers"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FinishBatch(bool borrowed)
    {
        var finished = Runner.TakeFinished();
        if (finished.Batch is not { } batch)
        {
            return; // nothing ran (every record had been cancelled, or a stop was aborted)
        }

        if (borrowed)
        {
            batch.Outcomes.Release(CallerResumption.Direct, finished.Recycle);
            return;
        }

        // Until those callers are resumed this worker is not idle, and their new records need no wake of the packing
        // thread: whoever resumes them packs right after (rule 3, and see IPackingSide.AddPackingResumer).
        Volatile.Write(ref _owesCallers, 1);
        _packer.AddPackingResumer(); // a full fence: the flag is visible before any caller is resumed
        _waitingCallers = batch;
        _waitingRecycle = finished.Recycle;
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// One consumer of the prefetch ring: takes sealed batches and runs the process function on them, one at a time, then
/// resumes the batch's callers. While it is parked, a submitter may borrow it to run a lone record itself (the idle
/// fast path).
/// </summary>
/// <remarks>
/// <para>States (the low bits of <c>_state</c>; the rest is the incarnation, see below): <c>Busy</c> (running, or about
/// to), <c>Announced</c> (flagged as parked, re-checking the ring), <c>Parked</c> (waiting for its signal),
/// <c>Borrowed</c> (parked, and a submitter runs a batch in its name), <c>Resuming</c> (running its last batch's
/// callers' continuations on its own thread). A worker is woken (by whoever dispatched a batch: the packing thread, a
/// worker that packed, a submitter giving a borrowed worker back) by moving it from <c>Announced</c> or <c>Parked</c>
/// to <c>Busy</c> with a CAS and then setting its signal; a worker that finds a batch in its re-check moves itself from
/// <c>Announced</c> to <c>Busy</c>, and if a waker won that CAS first it still consumes the one wake-up, so every wake
/// is consumed before the signal is reset again. A submitter borrows only a <c>Parked</c> worker (never one
/// re-checking), so a worker never runs a batch while it is borrowed; the submitter puts it back to <c>Parked</c> and
/// wakes it if a batch arrived meanwhile.</para>
/// <para>Resuming callers on the worker's own thread is what makes a closed loop fast: the callers submit again while
/// it runs them, and the worker packs their records and takes the batch they make, with no thread-pool hop in the
/// cycle. It does so only when no batch waits for it (else one pool work item resumes them, and the worker runs the
/// next batch), and for a bounded time (then it hands the rest to the pool). A caller's continuation that blocks would
/// hold the worker: the packing thread watches (<see cref="Watch"/>), and takes over a worker that has run the same
/// continuation since its last look: its callers not yet resumed go to a pool work item, and a new incarnation of the
/// worker's loop starts on the pool. The stuck thread, when it returns, finds its incarnation gone (the CAS out of
/// <c>Resuming</c> fails) and leaves; so at most one incarnation runs batches, and the bound on process calls holds.</para>
/// <para>Running a batch (the process call, settling, counting, the observer) is its <see cref="Runner"/>'s job; the
/// worker decides when, and how the batch's callers are resumed.</para>
/// </remarks>
internal sealed class Worker<TRecord, TResult>
{
    private const int Busy = 0;
    private const int Announced = 1;
    private const int Parked = 2;
    private const int Borrowed = 3;
    private const int Resuming = 4;
    private const int KindBits = 3;
    private const int KindMask = (1 << KindBits) - 1;
    private const int SpinsForWake = 20;

    // How long the worker runs costly callers' continuations itself before it hands the rest to the pool (checked
    // between continuations, see TurnBudget), so they spread over idle pool threads. It is also the process call's
    // length from which the device counts as busy: then a batch that waits for the worker ends its turn at once.
    private static readonly TimeSpan s_resumeBudget = TimeSpan.FromMicroseconds(50);
    private static readonly long s_resumeBudgetTicks = Timestamps.ToTicks(s_resumeBudget, Stopwatch.Frequency);

    private readonly BatchRing<Batch<TRecord, TResult>> _prefetch;
    private readonly IPackingSide _packer;
    private readonly RunLifetime _run;
    private readonly TimeProvider _time;
    private readonly long _busyDeviceTicks; // the resumption budget on the batcher's clock
    private readonly WorkerSignal _signal = new();
    private readonly BatchPool<TRecord, TResult> _batches;
    private readonly Action _finishBorrowed;
    private readonly Action _finishBorrowedLone;
    private readonly Action<HeldOutcomes<TResult>> _returnThenPack;
    private readonly Action<HeldOutcomes<TResult>> _returnOutcomes;
    private readonly Action<HeldOutcomes<TResult>> _packAfterRelease;
    private int _state;
    private ValueTask _borrowedRun; // the run of a borrowing submitter that went asynchronous

    // The callers' outcomes the worker's thread resumes while Resuming (written before the state moves there), and how
    // many continuations it has started so far (the watch compares it between two looks).
    private HeldOutcomes<TResult>? _resuming;
    private long _resumeProgress;
    private ExecutionContext? _loopContext; // the loop's own context, which a new incarnation carries on

    // The incarnation whose callers a takeover has handed to the pool: the taken-over thread waits for it before it
    // leaves the batch (see ResumeHere).
    private int _handedOnIncarnation = -1;

    // Owned by the packing thread's watch: what it saw at its last look.
    private int _watchedState = -1;
    private long _watchedProgress;

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
        _busyDeviceTicks = Timestamps.ToTicks(s_resumeBudget, time.TimestampFrequency);
        _batches = batches;
        Runner = runner;
        _returnOutcomes = batches.ReturnOutcomes;
        _returnThenPack = held =>
        {
            batches.ReturnOutcomes(held);
            PackAfterResuming(packer);
        };
        _packAfterRelease = _ => PackAfterResuming(packer);
        _finishBorrowed = FinishBorrowed;
        _finishBorrowedLone = FinishBorrowedLone;
    }

    /// <summary>Runs the worker's batches through the process function.</summary>
    public BatchRunner<TRecord, TResult> Runner { get; }

    /// <summary>True while the worker waits for a batch (and is not borrowed).</summary>
    /// <remarks>
    /// A worker that is resuming its last batch's callers is not idle: those callers are about to submit again, and an
    /// eager batch sent now would leave their records for the next one (rule 3).
    /// </remarks>
    public bool IsIdle => KindOf(Volatile.Read(ref _state)) is Announced or Parked;

    /// <summary>True while the worker waits for its signal and may be borrowed.</summary>
    public bool IsParked => KindOf(Volatile.Read(ref _state)) == Parked;

    /// <summary>The worker's state in words (diagnostics: a racy snapshot).</summary>
    public string Describe()
    {
        int state = Volatile.Read(ref _state);
        string kind = KindOf(state) switch
        {
            Busy => "busy",
            Announced => "announced",
            Parked => "parked",
            Borrowed => "borrowed",
            _ => "resuming callers",
        };
        return $"{kind}, incarnation {state >> KindBits}";
    }

    /// <summary>Starts the worker's loop on the thread pool.</summary>
    public void Start() => _ = Task.Run(() => RunAsync(0));

    /// <summary>Wakes the worker if it is parked (after a batch was dispatched, or at the end of a run). Returns whether it was.</summary>
    public bool TryWake()
    {
        int state = Volatile.Read(ref _state); // a first look; the CAS below decides
        while (KindOf(state) is Announced or Parked)
        {
            int seen = Interlocked.CompareExchange(ref _state, WithKind(state, Busy), state); // CAS: one waker wins the worker, and it alone sets the signal
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
    public bool TryBorrow()
    {
        int state = Volatile.Read(ref _state);
        return KindOf(state) == Parked && Interlocked.CompareExchange(ref _state, WithKind(state, Borrowed), state) == state;
    }

    /// <summary>
    /// Runs <paramref name="batch"/> on the calling thread for the submitter that borrowed this worker, and gives the
    /// worker back once the batch is done: right away when the process function completed synchronously, else from
    /// the thread that completes it (no allocation either way: the awaiter's callback is cached). Returns the
    /// timestamp, on the batcher's clock, at which the calling thread was let go.
    /// </summary>
    /// <param name="batch">The batch of one.</param>
    /// <param name="started">When the batch started: its record's submit.</param>
    public long RunBorrowed(Batch<TRecord, TResult> batch, long started)
    {
        Debug.Assert(KindOf(Volatile.Read(ref _state)) == Borrowed, "only the submitter that borrowed the worker runs in its name");
        var run = Runner.RunAsync(batch, started);
        if (run.IsCompleted)
        {
            run.GetAwaiter().GetResult();
            long ended = Runner.Finished.Ended; // the process call ended: only bookkeeping is left
            FinishBorrowedBatch();
            GiveBack();
            return ended == 0 ? started : ended;
        }

        _borrowedRun = run; // one borrowed run at a time: the worker is ours until GiveBack
        run.GetAwaiter().UnsafeOnCompleted(_finishBorrowed);
        return _time.GetTimestamp();
    }

    /// <summary>
    /// Runs a lone record without a batch on the calling thread, for the submitter that borrowed this worker
    /// (list-shaped function; see <see cref="BatchRunner{TRecord, TResult}.RunLone"/>), and gives the worker back once
    /// the call completes: right away when it completed synchronously, else from the thread that completes it.
    /// Returns the timestamp, on the batcher's clock, at which the calling thread was let go.
    /// </summary>
    public long RunLone(
        ProcessFn<TRecord, TResult> function, TRecord record, long cost, long started, CancellationToken token, out ValueTask<TResult> result)
    {
        Debug.Assert(KindOf(Volatile.Read(ref _state)) == Borrowed, "only the submitter that borrowed the worker runs in its name");
        if (Runner.RunLone(function, record, cost, started, token, _finishBorrowedLone, out result, out long ended))
        {
            GiveBack();
        }

        return ended;
    }

    private void FinishBorrowedLone()
    {
        try
        {
            Runner.FinishPendingLone();
        }
        finally
        {
            GiveBack();
        }
    }

    private void FinishBorrowed()
    {
        var run = _borrowedRun;
        _borrowedRun = default;
        try
        {
            run.GetAwaiter().GetResult(); // returns the run's pooled state machine
            FinishBorrowedBatch();
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
    public void GiveBack()
    {
        int state = Volatile.Read(ref _state);
        Debug.Assert(KindOf(state) == Borrowed, "only a borrowed worker is given back");
        // Full fence: the store is ordered before the reads of the ring below, and the packing thread publishes a
        // batch with a full fence before it reads our state (Dekker): one of us sees the other.
        Interlocked.Exchange(ref _state, WithKind(state, Parked));
        if (!_prefetch.IsEmpty || _prefetch.IsCompleted)
        {
            TryWake();
        }

        WakePackerIfHolding();
    }

    /// <summary>
    /// The packing thread's watch, every few milliseconds while callers are being resumed: takes the worker over when
    /// it has been running the same caller's continuation since the last look (see the remarks), or, with
    /// <paramref name="now"/>, whenever it is running callers' code (an aborted stop: nobody will watch any more).
    /// Returns whether it did.
    /// </summary>
    public bool Watch(bool now = false)
    {
        int state = Volatile.Read(ref _state);
        long progress = Volatile.Read(ref _resumeProgress);
        if (KindOf(state) != Resuming || (!now && (state != _watchedState || progress != _watchedProgress)))
        {
            _watchedState = state;
            _watchedProgress = progress;
            return false;
        }

        _watchedState = -1;
        int next = WithKind(state + (1 << KindBits), Busy);
        if (Interlocked.CompareExchange(ref _state, next, state) != state) // CAS: either the stuck thread leaves Resuming, or we take its place
        {
            return false; // it returned in the meantime
        }

        // The stuck thread set _resuming before it entered Resuming (the CAS read that state: acquire), and keeps its
        // resumer's place until it has seen the flag below, so the set of outcomes is not recycled under us.
        _resuming!.HandOn();
        Volatile.Write(ref _handedOnIncarnation, state >> KindBits); // release: the helper is counted before the stuck thread may leave
        _packer.RemovePackingResumer(); // on the stuck thread's behalf: it will not pack
        StartIncarnation(next >> KindBits, _loopContext);
        return true;
    }

    /// <summary>
    /// Starts the loop's next incarnation on the pool, on the loop's own execution context (what the observer or the
    /// process function set in it stays with the worker, as if nothing happened).
    /// </summary>
    private void StartIncarnation(int incarnation, ExecutionContext? loopContext)
    {
        if (loopContext is null)
        {
            _ = Task.Run(() => RunAsync(incarnation));
            return;
        }

        ExecutionContext.Run(loopContext, static state =>
        {
            var (worker, incarnation) = ((Worker<TRecord, TResult>, int))state!;
            _ = Task.Run(() => worker.RunAsync(incarnation));
        }, (this, incarnation));
    }

    private async Task RunAsync(int incarnation)
    {
        var prefetch = _prefetch;
        int me = incarnation << KindBits;
        bool replaced = false;
        try
        {
            while (true)
            {
                if (!prefetch.TryDequeue(out var batch))
                {
                    if (prefetch.IsCompleted)
                    {
                        if (!prefetch.TryDequeue(out batch))
                        {
                            return; // the packing thread is done and nothing is left
                        }
                    }
                    else
                    {
                        _signal.Reset();
                        Interlocked.Exchange(ref _state, me | Announced); // full fence before the re-check below
                        bool found = prefetch.TryDequeue(out batch);
                        if (!found && !prefetch.IsCompleted)
                        {
                            // Parked from here: borrowable. If the packing thread already woke us, the CAS fails and
                            // the wait below consumes that wake-up.
                            Interlocked.CompareExchange(ref _state, me | Parked, me | Announced); // a full fence either way
                            if (_packer.HoldsRecords && !_packer.TryPackFromWorker(asIdleWorker: false))
                            {
                                SpinForWake(); // the packing thread has the token: it packs them, and wakes us if so
                            }

                            await _signal.WaitAsync();
                            continue;
                        }

                        if (Interlocked.CompareExchange(ref _state, me | Busy, me | Announced) != (me | Announced))
                        {
                            await _signal.WaitAsync(); // the packing thread already claimed our wake-up: consume it
                        }

                        if (!found)
                        {
                            continue;
                        }
                    }
                }

                WakePackerIfHolding(); // the dequeue's CAS was the full fence: a prefetch slot is free
                await Runner.RunAsync(batch);
                if (!FinishBatch(me))
                {
                    replaced = true;
                    return;
                }
            }
        }
        finally
        {
            if (!replaced)
            {
                _run.OnWorkerExited();
            }
        }
    }

    /// <summary>
    /// Reports the batch just run to the observer (through the runner), then lets its callers have their outcomes:
    /// counted first, so a caller that has its result finds it in the stats. On the worker's own thread, unless a batch
    /// waits for a busy device: then through one pool work item. False when this incarnation was taken over while it ran callers'
    /// code (see <see cref="Watch"/>): it must leave.
    /// </summary>
    private bool FinishBatch(int me)
    {
        var finished = Runner.TakeFinished();
        if (finished.Batch is not { } batch)
        {
            return true; // nothing ran (every record had been cancelled, or a stop was aborted)
        }

        // Until those callers are resumed, their new records need no wake of the packing thread: whoever resumes them
        // packs right after (rule 3, and see IPackingSide.AddPackingResumer).
        _packer.AddPackingResumer(); // a full fence: the count is visible before any caller is resumed
        // The batch goes back at once; its outcomes live on in a set of their own until their callers are resumed. (An
        // aborted stop took the batch when Recycle is null: then neither it nor its outcomes go back to a pool.)
        bool pooled = finished.Recycle is not null;
        var held = pooled ? batch.HandOverOutcomes(_batches.RentOutcomes()) : batch.Outcomes;
        finished.Recycle?.Invoke(batch);
        // A process call shorter than the resumption budget left the device idle for less time than handing the callers
        // to another thread costs them (every record's completion and the intake would cross between cores): the worker
        // resumes them itself even while a batch waits. A busy device gets its next batch first.
        bool busyDevice = finished.Ended - finished.Started >= _busyDeviceTicks;
        if (held.Count == 0 || (busyDevice && !_prefetch.IsEmpty) || _run.IsAborting)
        {
            held.ResumeOnPool(pooled ? _returnThenPack : _packAfterRelease);
            return true;
        }

        return ResumeHere(held, pooled ? _returnOutcomes : null, me, busyDevice);
    }

    /// <summary>
    /// Runs the callers' continuations on this thread until none is left, a batch waits for a busy device
    /// (<paramref name="busyDevice"/>), or its budget is spent (the rest then goes to the pool); then packs what they
    /// submitted and lets the loop take the batch. False when the watch took this incarnation over meanwhile.
    /// </summary>
    private bool ResumeHere(HeldOutcomes<TResult> held, Action<HeldOutcomes<TResult>>? afterAll, int me, bool busyDevice)
    {
        _loopContext = ExecutionContext.Capture(); // what a new incarnation carries on, should the watch take this one over
        _resuming = held;
        held.BeginResumingHere(afterAll);
        Interlocked.Exchange(ref _state, me | Resuming); // full fence: _resuming is visible to a watch that sees the state, and the packing thread's parked flag is read after it
        _packer.KeepWatch();
        var budget = new TurnBudget(s_resumeBudgetTicks, _resumeProgress, HeldOutcomes<TResult>.ChunkSize);
        // Each turn first checks that this incarnation still holds the worker: once taken over, it stops claiming.
        while (Volatile.Read(ref _state) == (me | Resuming) && held.ResumeSome(ref _resumeProgress))
        {
            if ((busyDevice && !_prefetch.IsEmpty) || budget.IsSpent(_resumeProgress))
            {
                held.HandOn();
                break;
            }
        }

        // CAS: leaving Resuming races with a watch taking this incarnation over; whoever wins decides.
        bool mine = Interlocked.CompareExchange(ref _state, me | Busy, me | Resuming) == (me | Resuming);
        if (!mine)
        {
            // Taken over: the watch is adding a pool resumer for the rest. Our place keeps the set of outcomes alive until
            // it has (the watch does nothing else in between), so wait for that before leaving.
            var spinner = default(SpinWait);
            while (Volatile.Read(ref _handedOnIncarnation) != me >> KindBits)
            {
                spinner.SpinOnce();
            }
        }

        held.Leave(); // after the CAS (and, if taken over, the watch's hand-on): until then the set needs our place
        if (!mine)
        {
            return false;
        }

        _packer.RemovePackingResumer(); // a full fence before the round below reads the intake (Dekker with submitters)
        _packer.TryPackFromWorker(asIdleWorker: true);
        return true;
    }

    /// <summary>A borrowing submitter's batch: its outcomes are set on the submitter's thread, each continuation queued.</summary>
    private void FinishBorrowedBatch()
    {
        var finished = Runner.TakeFinished();
        if (finished.Batch is { } batch)
        {
            batch.Outcomes.ReleaseAll();
            finished.Recycle?.Invoke(batch);
        }
    }

    /// <summary>
    /// The end of a resumption handed to the pool: the resumer no longer holds the packing thread back, and packs
    /// what its callers submitted itself (or wakes the packing thread, when that one holds the token).
    /// </summary>
    private static void PackAfterResuming(IPackingSide packer)
    {
        packer.RemovePackingResumer();
        packer.TryPackFromWorker(asIdleWorker: false);
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
        while (KindOf(Volatile.Read(ref _state)) == Parked && spinner.Count < SpinsForWake) // a waker's CAS moves us to Busy
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

    private static int KindOf(int state) => state & KindMask;

    private static int WithKind(int state, int kind) => (state & ~KindMask) | kind;
}

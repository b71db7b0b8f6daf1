using System.Diagnostics;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Packing.Rules;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// The dedicated packing thread: drains the intake lanes into the open batches (one per cost bucket) and hands
/// sealed batches to the prefetch ring, doing what <see cref="BatchRules"/> and <see cref="OrderRules"/> answer. It never runs callers' code,
/// so it cannot be stalled by it. When there is nothing to do it spins briefly, then parks until a submit, a worker,
/// an open batch's deadline or a stop wakes it.
/// </summary>
/// <remarks>
/// <para>The engine's hot methods (here, and along the submit, hand-off and completion paths) are left to the JIT's
/// tiered compilation: they start unoptimized and are recompiled with dynamic profile-guided optimization once hot.
/// Marking them <c>AggressiveOptimization</c> (fully optimized at first use, never profiled) made the first records
/// faster but the steady state slower: 11–30 % fewer records/s at 64 closed-loop producers and about 20 % more idle
/// latency (<c>docs/perf.md</c>, <i>Findings</i>).</para>
/// <para>Each lane has a head slot: the record taken from its ring but not placed yet (it did not fit a full batch, or
/// another lane's record went first). A record waits there, never goes back, so order within a lane holds.</para>
/// </remarks>
internal sealed class PackingLoop<TRecord, TResult> : IPackingSide
{
    private const int SpinsBeforePark = 20;
    private const int ResumerParkMilliseconds = 2;
    private const int PublishEvery = 64;

    // With a custom clock, time moves when its owner says so: a timer on that clock wakes the thread at the
    // deadline, and a short real-time poll covers a clock moved while the timer was being armed.
    private const int CustomClockPollMilliseconds = 20;

    private readonly LiveSettings<TRecord> _live;
    private readonly IntakeLanes<IntakeItem<TRecord, TResult>> _intake;
    private readonly BatchRing<Batch<TRecord, TResult>> _prefetch;
    private readonly BatchPool<TRecord, TResult> _batches;
    private readonly WorkerSet<TRecord, TResult> _workers;
    private readonly RunLifetime _run;
    private readonly OrderRules _order; // lanes, ageing and buckets: fixed for the batcher's life
    private readonly TimeProvider _time;
    private readonly bool _pin;
    private readonly ITimer? _deadlineTimer;

    // Owned by whoever holds the packing token.
    private readonly IntakeItem<TRecord, TResult>[] _heads; // per lane; Completion == null when empty
    private readonly long[] _headArrivals;
    private readonly Batch<TRecord, TResult>?[] _open; // per bucket
    private readonly DispatchReason[] _openFull; // per bucket: why its batch is full, or None
    private int _holdsRecords; // see HoldsRecords
    private long _handedOff; // records taken from the intake that left this thread (sent in a batch, or dropped dead)

    /// <summary>
    /// Creates the loop that packs <paramref name="intake"/> into batches from <paramref name="batches"/> for
    /// <paramref name="prefetch"/>, waking <paramref name="workers"/>; <see cref="Start"/> runs it.
    /// </summary>
    public PackingLoop(
        LiveSettings<TRecord> live,
        IntakeLanes<IntakeItem<TRecord, TResult>> intake,
        BatchRing<Batch<TRecord, TResult>> prefetch,
        BatchPool<TRecord, TResult> batches,
        WorkerSet<TRecord, TResult> workers,
        RunLifetime run)
    {
        var settings = live.Current;
        _live = live;
        _intake = intake;
        _prefetch = prefetch;
        _batches = batches;
        _workers = workers;
        _run = run;
        _order = settings.Order;
        _time = settings.TimeProvider;
        _pin = settings.PinPackingThread;
        _heads = new IntakeItem<TRecord, TResult>[_intake.Count];
        _headArrivals = new long[_intake.Count];
        _open = new Batch<TRecord, TResult>?[_order.BucketCount];
        _openFull = new DispatchReason[_order.BucketCount];
        if (_time != TimeProvider.System)
        {
            _deadlineTimer = _time.CreateTimer(
                static state => ((Parker)state!).Unpark(), Parker, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Parks the packing thread; submits, workers and stops wake it through <see cref="Parker.Unpark"/>.</summary>
    public Parker Parker { get; } = new();

    /// <inheritdoc />
    public void Wake() => Parker.Unpark();

    /// <summary>
    /// Records taken from the intake that have left the packing thread: sent in a batch to the prefetch ring, or dropped
    /// because they were cancelled while queued. Equal to the intake's accepted count when nothing is queued or packing.
    /// </summary>
    public long HandedOff => Volatile.Read(ref _handedOff);

    /// <summary>
    /// True when the last round of packing left records behind (an open batch, or a record at a lane's head): only
    /// then can a worker going idle or freeing a prefetch slot give the packing thread something to do. Written at the
    /// end of every round, and before the thread flags itself as parked and re-checks the workers and the prefetch
    /// ring, so a worker that changes either after its own full fence and then reads false knows the re-check saw its
    /// change.
    /// </summary>
    public bool HoldsRecords => Volatile.Read(ref _holdsRecords) != 0;

    /// <summary>The CPU the thread is pinned to, or -1.</summary>
    public int PinnedCpu { get; private set; } = -1;

    /// <summary>The packing side's state in words (diagnostics: a racy snapshot).</summary>
    public string Describe() =>
        $"handed off {HandedOff}, holds records {HoldsRecords}, resumers {Volatile.Read(ref _packingResumers)}, " +
        $"token {Volatile.Read(ref _token)}, parked {Parker.IsParked}, open [{string.Join(",", _open.Select(b => b?.EntryCount ?? 0))}], " +
        $"full [{string.Join(",", _openFull)}], heads [{string.Join(",", _heads.Select(h => h.Completion is null ? "-" : "x"))}]";

    /// <summary>How many records the open batch of <paramref name="bucket"/> holds: a racy snapshot, for tests.</summary>
    internal int OpenBatchEntryCount(int bucket) => Volatile.Read(ref _open[bucket])?.EntryCount ?? 0;

    /// <summary>Starts the thread.</summary>
    public void Start() =>
        new Thread(Run) { IsBackground = true, Name = "LowLatencyBatcher packing" }.Start();

    private void Run()
    {
        if (_pin)
        {
            PinnedCpu = ThreadAffinity.TryPinCurrentThread();
        }

        try
        {
            Loop();
        }
        catch (Exception e)
        {
            // Only a defect of ours lands here (this thread runs no caller code): fail what was accepted, loudly.
            _run.FailFromPackingThread(e);
            _intake.Close();
            AbortDrain();
        }
        finally
        {
            _deadlineTimer?.Dispose();
            _run.OnPackingThreadExited();
        }
    }

    private void Loop()
    {
        var spinner = default(SpinWait);
        long resumerSeenAt = 0; // when the thread began to stand back for resumers that packed nothing since (0: it does not)
        long handedOffSeen = 0;
        while (true)
        {
            bool resumers = ResumerWillPack;
            if (resumers)
            {
                _workers.Watch(Environment.TickCount64); // a worker stuck in a caller's continuation is taken over
            }

            long handedOff = HandedOff;
            if (!resumers || handedOff != handedOffSeen)
            {
                resumerSeenAt = 0; // no resumers, or they packed records since the last look: they make progress
                handedOffSeen = handedOff;
            }

            if (resumers && !_run.IsAborting && !_intake.IsClosed
                && (resumerSeenAt == 0 || Environment.TickCount64 - resumerSeenAt <= ResumerParkMilliseconds))
            {
                // Callers are being resumed, and their resumer packs what they submit right after: stay out of its way
                // (draining now would only split their batch and take a core from them). A short timed park, again
                // and again while the resumers pack; once they have packed nothing for that long (a caller's
                // continuation that blocks, say), the thread packs as usual whatever the resumers do, so records never
                // wait on callers' code for long.
                resumerSeenAt = resumerSeenAt == 0 ? Environment.TickCount64 : resumerSeenAt;
                spinner.Reset();
                Parker.PrepareToPark();
                if (ResumerWillPack)
                {
                    Parker.Park(ResumerParkMilliseconds);
                }
                else
                {
                    Parker.CancelPark();
                }

                continue;
            }

            if (!TryTakeToken())
            {
                spinner.SpinOnce(sleep1Threshold: -1); // a worker is packing: it is done in a moment
                continue;
            }

            int sleepMilliseconds;
            try
            {
                if (_run.IsAborting)
                {
                    AbortDrain();
                    return;
                }

                bool progressed = Pass();
                if (IsFinished)
                {
                    _prefetch.Complete();
                    _workers.WakeAll();
                    // A safety net for the end of a run: until every worker has seen the end, wake the parked ones again
                    // now and then (a wake is a CAS on the worker's state, so a repeated one is harmless).
                    while (_run.WorkersRunning > 0 && !_run.IsAborting)
                    {
                        Thread.Sleep(1);
                        _workers.WakeAll();
                        _workers.Watch(Environment.TickCount64); // one stuck in a caller's continuation would never see it
                    }

                    // An abort that began during the last round: the stopping thread failed the prefetch ring before this
                    // round's last batch reached it, and a worker may never take it (one held by a hung process call).
                    // The batch's enqueue was a full fence before the flag's read above (Dekker with the abort's fence
                    // before its dequeues): either the stopping thread took the batch, or this read sees the abort.
                    if (_run.IsAborting)
                    {
                        _batches.FailWaiting(_prefetch, _run.AbortError);
                    }

                    return;
                }

                if (progressed)
                {
                    spinner.Reset();
                    continue;
                }

                if (spinner.Count < SpinsBeforePark)
                {
                    sleepMilliseconds = 0;
                }
                else
                {
                    spinner.Reset();
                    sleepMilliseconds = PrepareToSleep();
                }
            }
            finally
            {
                ReleaseToken();
            }

            if (sleepMilliseconds == 0)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
            else if (sleepMilliseconds > 0 || sleepMilliseconds == Timeout.Infinite)
            {
                Parker.Park(sleepMilliseconds);
                Volatile.Write(ref _sleepsPastWatch, 0);
            }
        }
    }

    /// <summary>
    /// One round of packing: full batches out, the intake into open batches, the batches that filled up out, an early
    /// batch out.
    /// </summary>
    private bool Pass(bool asIdleWorker = false)
    {
        Debug.Assert(Volatile.Read(ref _token) == 1, "only the token's holder touches the packing state");
        bool progressed = DispatchFullBatches();
        progressed |= Drain();
        progressed |= DispatchFullBatches();
        progressed |= DispatchEarly(_time.GetTimestamp(), asIdleWorker);
        Volatile.Write(ref _holdsRecords, NoOpenBatch && NoHead ? 0 : 1); // release: read by workers after their full fence
        return progressed;
    }

    /// <summary>
    /// One round of packing off the packing thread: by whoever has just resumed a batch's callers (they have just
    /// submitted again: the worker itself, or a pool work item), or by a worker going idle while records wait. The batch their records make
    /// goes out, eagerly to an idle worker, without waiting for the packing thread to notice. False, having done
    /// nothing, when the packing thread holds the token (it packs them itself) or a stop is being aborted. Records left
    /// behind (an open batch that waits for its timeout, say) wake the packing thread, which owns the timing of what
    /// waits; so does any round during a stop, since the packing thread owns the end of the run.
    /// </summary>
    public bool TryPackFromWorker(bool asIdleWorker)
    {
        if (_run.IsAborting || !TryTakeToken())
        {
            // The packing thread holds the token. Submitters skipped its wake while their callers were being resumed;
            // if it flagged itself parked before their records were published, wake it (its re-check covers the rest).
            Parker.Unpark();
            return false;
        }

        try
        {
            Pass(asIdleWorker);
        }
        finally
        {
            ReleaseToken(); // a full fence: the packer's parked flag is read after it
        }

        // Records left behind (as the round left them) wait on the packing thread's timing. During a stop the packing
        // thread also owns the end of the run (completing the prefetch ring once everything went out): it may have
        // parked with no deadline while a submitter was still publishing a record that this round has now sent, so
        // it is woken whether or not records are left.
        if (HoldsRecords || _intake.IsClosed)
        {
            Parker.Unpark();
        }

        return true;
    }

    /// <summary>
    /// True from the end of a batch until its callers have been resumed by a pool work item, which then packs what
    /// they submitted (see <see cref="TryPackFromWorker"/>): a submitter need not wake the packing
    /// thread meanwhile, the idle fast path stays off, and an eager batch waits for them (rule 3). Read after the
    /// submit's full fence; <see cref="RemovePackingResumer"/> is a full fence before the resumer packs (Dekker):
    /// either the submitter sees no resumer and wakes the thread, or the resumer's round sees the record.
    /// </summary>
    public bool ResumerWillPack => Volatile.Read(ref _packingResumers) != 0;

    /// <summary>A worker finished a batch whose callers are to be resumed.</summary>
    public void AddPackingResumer() => Interlocked.Increment(ref _packingResumers);

    /// <summary>A batch's callers were resumed; their resumer packs next. A full fence.</summary>
    public void RemovePackingResumer() => Interlocked.Decrement(ref _packingResumers);

    /// <inheritdoc />
    public void KeepWatch()
    {
        if (Volatile.Read(ref _sleepsPastWatch) != 0) // read after the worker's full fence (Dekker with PrepareToSleep)
        {
            Parker.Unpark();
        }
    }

    private int _packingResumers;

    // 1 while the packing thread sleeps longer than the watch interval (or with no deadline): a worker that begins
    // running callers' code then wakes it (KeepWatch), so that a continuation that blocks is always watched.
    private int _sleepsPastWatch;

    // The packing token: whoever holds it owns every field of this loop (heads, open batches, the intake's consumer
    // side). The packing thread holds it for each round; a worker may take it for one round (TryPackFromWorker).
    private int _token;

    /// <summary>Takes the token; the CAS is an acquire, so the last holder's writes are visible.</summary>
    private bool TryTakeToken() =>
        Volatile.Read(ref _token) == 0 && Interlocked.CompareExchange(ref _token, 1, 0) == 0;

    /// <summary>Gives the token back; a full fence, so the holder's writes are visible before the reads that follow.</summary>
    private void ReleaseToken() => Interlocked.Exchange(ref _token, 0);

    /// <summary>A stop began, everything accepted was drained and the last batch went out.</summary>
    private bool IsFinished => NoOpenBatch && NoHead && _intake.IsDrainedAfterClose;

    /// <summary>A stop began and every accepted record is in an open batch: flush them (rule 3).</summary>
    private bool IsFlushing => NoHead && _intake.IsDrainedAfterClose;

    private bool NoOpenBatch => Array.TrueForAll(_open, batch => batch is null);

    /// <summary>
    /// Without buckets, a full open batch takes nothing more, so the records stay in the intake (which keeps
    /// <c>MaxQueueSize</c> exact). With buckets, one record per lane may be taken into its head slot to learn its bucket.
    /// </summary>
    private bool OnlyBatchIsFull => _open.Length == 1 && _openFull[0] != DispatchReason.None;

    private bool NoHead
    {
        get
        {
            foreach (var head in _heads)
            {
                if (head.Completion is not null)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Sends full batches, oldest first, while the prefetch ring has room (rules 2 and 4).</summary>
    private bool DispatchFullBatches()
    {
        bool progressed = false;
        while (true)
        {
            int oldest = -1;
            for (int bucket = 0; bucket < _open.Length; bucket++)
            {
                if (_openFull[bucket] != DispatchReason.None
                    && (oldest < 0 || _open[bucket]!.FirstArrival < _open[oldest]!.FirstArrival))
                {
                    oldest = bucket;
                }
            }

            if (oldest < 0 || !TryDispatch(oldest, _openFull[oldest]))
            {
                return progressed;
            }

            progressed = true;
        }
    }

    /// <summary>Sends the oldest batch that rule 3 says may go early.</summary>
    private bool DispatchEarly(long now, bool asIdleWorker)
    {
        int bucket = PickEarly(now, out DispatchReason reason, asIdleWorker);
        return bucket >= 0 && TryDispatch(bucket, reason);
    }

    private int PickEarly(long now, out DispatchReason reason, bool asIdleWorker = false)
    {
        int picked = -1;
        reason = DispatchReason.None;
        bool flushing = IsFlushing;
        bool workerIdle = asIdleWorker || _workers.AnyIdle();
        bool prefetchEmpty = _prefetch.IsEmpty;
        bool callersResuming = ResumerWillPack;
        for (int bucket = 0; bucket < _open.Length; bucket++)
        {
            var batch = _open[bucket];
            if (batch is null || _openFull[bucket] != DispatchReason.None
                || (picked >= 0 && batch.FirstArrival >= _open[picked]!.FirstArrival))
            {
                continue;
            }

            var early = batch.Rules.EarlyReason(
                batch.EntryCount, batch.FirstArrival, now, flushing, workerIdle, prefetchEmpty, callersResuming);
            if (early != DispatchReason.None)
            {
                picked = bucket;
                reason = early;
            }
        }

        return picked;
    }

    private bool TryDispatch(int bucket, DispatchReason reason)
    {
        var batch = _open[bucket];
        Debug.Assert(batch is not null && batch.EntryCount > 0, "only an open batch with records is dispatched");
        batch.Reason = reason;
        int records = batch.EntryCount; // read before the hand-off: a worker may run and recycle the batch at once
        if (!_prefetch.TryEnqueue(batch))
        {
            return false; // prefetch full: the batch keeps absorbing records until it is full itself (rule 4)
        }

        _open[bucket] = null;
        _openFull[bucket] = DispatchReason.None;
        // Release, after the batch's publication: whoever reads the new count finds the batch in the ring or taken.
        Volatile.Write(ref _handedOff, _handedOff + records);
        _workers.WakeOne();
        return true;
    }

    /// <summary>
    /// Moves records from the intake into the open batches until no head can be placed or none waits. Lanes are tried
    /// in the order rule 5 picks them; a head that cannot be placed keeps its place at its lane's head (so order
    /// within the lane holds) and the next lane in that order is tried (rule 6: another lane's record may belong to a
    /// bucket with room).
    /// </summary>
    private bool Drain()
    {
        bool progressed = false;
        int taken = 0;
        int waiting = 0; // lanes whose head cannot be placed now, one bit each
        while (!OnlyBatchIsFull)
        {
            int lane = NextLane(waiting);
            if (lane < 0)
            {
                break;
            }

            ref var head = ref _heads[lane];
            if (IsDropped(lane))
            {
                head = default; // cancelled or timed out while queued: dropped before it takes any room (rule 5)
                Volatile.Write(ref _handedOff, _handedOff + 1);
                progressed = true;
                continue;
            }

            if (!MayPlace(lane, out int bucket))
            {
                waiting |= 1 << lane; // the record keeps its place at its lane's head
                continue;
            }

            var open = _open[bucket];
            if (open is not null && !open.Fits(head.Cost))
            {
                _openFull[bucket] = DispatchReason.Budget; // rule 1: the record starts the next batch
                waiting |= 1 << lane;
                continue;
            }

            if (open is null)
            {
                open = _open[bucket] = _batches.Rent();
                // A record stamped at submit opens its batch at its submit; an unstamped one (submitted during a
                // resumption turn) now: later than its submit by the rest of that turn, or by rule 4's hold-back, so
                // a batch never leaves before its timeout.
                open.Open(_live.Current.Rules, head.Arrival != Timestamps.NotStamped ? head.Arrival : _time.GetTimestamp());
            }

            open.Add(head);
            head = default;
            progressed = true;
            _openFull[bucket] = open.FullReason;
            if (++taken % PublishEvery == 0)
            {
                PublishRoom();
            }
        }

        PublishRoom();
        return progressed;
    }

    /// <summary>
    /// Whether <see cref="Drain"/> has something to do with lane <paramref name="lane"/> now: take its next record into
    /// the empty head slot, drop a head cancelled while queued, or place the head (it tries every lane whose head it
    /// cannot place, so whether it acts does not depend on the order it picks them in).
    /// </summary>
    private bool LaneHasWork(int lane) =>
        _heads[lane].Completion is null
            ? _intake[lane].HasPublishedItem
            : IsDropped(lane) || MayPlace(lane, out _);

    /// <summary>Whether lane <paramref name="lane"/>'s head record was cancelled or timed out while queued.</summary>
    private bool IsDropped(int lane) =>
        _heads[lane].MayBeDropped && !_heads[lane].Completion.IsQueued(_heads[lane].Generation);

    /// <summary>
    /// Whether lane <paramref name="lane"/>'s head record may join its bucket's open batch now: not while that batch is
    /// full and waits for prefetch room (rule 4), and, with lanes, not while every prefetch slot is full unless the
    /// record is urgent (rules 4 and 5).
    /// </summary>
    private bool MayPlace(int lane, out int bucket)
    {
        var head = _heads[lane];
        bucket = _order.BucketOf(head.Cost);
        if (_openFull[bucket] != DispatchReason.None)
        {
            return false;
        }

        return _heads.Length == 1
            || _prefetch.Count < _prefetch.Limit
            || _order.IsUrgent(lane, head.Arrival, _time.GetTimestamp());
    }

    /// <summary>
    /// Fills the empty head slots from the lanes and returns the lane whose record goes next (rule 5), leaving out the
    /// lanes in <paramref name="waiting"/> (one bit each), or -1.
    /// </summary>
    private int NextLane(int waiting)
    {
        if (_heads.Length == 1)
        {
            return waiting == 0 && (_heads[0].Completion is not null || _intake[0].TryDequeue(out _heads[0])) ? 0 : -1;
        }

        bool any = false;
        for (int lane = 0; lane < _heads.Length; lane++)
        {
            if (_heads[lane].Completion is null)
            {
                _intake[lane].TryDequeue(out _heads[lane]);
            }

            bool present = _heads[lane].Completion is not null && (waiting & (1 << lane)) == 0;
            _headArrivals[lane] = present ? _heads[lane].Arrival : OrderRules.NoRecord;
            any |= present;
        }

        return any ? _order.PickLane(_headArrivals, _time.GetTimestamp()) : -1;
    }

    private void PublishRoom() => _intake.PublishHeads();

    /// <summary>
    /// Flags the thread as parked and re-checks for work (under the token). Returns how long to sleep once the token
    /// is given back (<see cref="Timeout.Infinite"/> for no limit), or -2 when the re-check found work. A worker that
    /// packs between the re-check and the sleep wakes the thread if it leaves records behind, so none is forgotten.
    /// </summary>
    private int PrepareToSleep()
    {
        Volatile.Write(ref _holdsRecords, NoOpenBatch && NoHead ? 0 : 1); // ordered before the flag by PrepareToPark's fence
        Parker.PrepareToPark();
        long now = _time.GetTimestamp();
        if (HasWork(now))
        {
            Parker.CancelPark();
            return -2;
        }

        int wait = WaitMilliseconds(now);
        if (wait == Timeout.Infinite || wait > WorkerSet<TRecord, TResult>.WatchIntervalMilliseconds)
        {
            // Full fence: the flag is set before the resumers are counted, and a worker counts itself (full fence)
            // before it reads the flag (KeepWatch): either we see it and keep watching, or it wakes us.
            Interlocked.Exchange(ref _sleepsPastWatch, 1);
            if (ResumerWillPack)
            {
                wait = WorkerSet<TRecord, TResult>.WatchIntervalMilliseconds;
            }
        }

        return wait;
    }

    /// <summary>The re-check after flagging as parked: anything a waker may have published before it looked.</summary>
    private bool HasWork(long now)
    {
        if (_run.IsAborting || IsFinished)
        {
            return true;
        }

        for (int lane = 0; lane < _heads.Length && !OnlyBatchIsFull; lane++)
        {
            if (LaneHasWork(lane))
            {
                return true;
            }
        }

        if (_prefetch.Count >= _prefetch.Limit)
        {
            return false; // nothing can go out until a worker takes a batch, and that worker will wake us
        }

        return Array.Exists(_openFull, reason => reason != DispatchReason.None) || PickEarly(now, out _) >= 0;
    }

    private int WaitMilliseconds(long now)
    {
        long deadline = long.MaxValue;
        for (int bucket = 0; bucket < _open.Length; bucket++)
        {
            if (_open[bucket] is { } batch && _openFull[bucket] == DispatchReason.None)
            {
                deadline = Math.Min(deadline, batch.Rules.Deadline(batch.FirstArrival));
                if (ResumerWillPack)
                {
                    deadline = Math.Min(deadline, batch.Rules.ResumeWaitEnds(batch.FirstArrival)); // rule 3's bound
                }
            }
        }

        long remaining = deadline - now;
        if (deadline == long.MaxValue || remaining <= 0)
        {
            // No batch waits for its timeout (a submit or a worker will wake us), or one timed out while the prefetch
            // ring is full (a worker taking a batch will wake us).
            return Timeout.Infinite;
        }

        if (_deadlineTimer is null)
        {
            return (int)Math.Min(int.MaxValue, (remaining * 1000 + _time.TimestampFrequency - 1) / _time.TimestampFrequency);
        }

        _deadlineTimer.Change(_time.GetElapsedTime(now, deadline), Timeout.InfiniteTimeSpan);
        return CustomClockPollMilliseconds;
    }

    /// <summary>An aborted stop: fails every record the thread can reach, then lets the workers finish.</summary>
    private void AbortDrain()
    {
        var error = _run.AbortError;
        for (int bucket = 0; bucket < _open.Length; bucket++)
        {
            if (_open[bucket] is { } batch)
            {
                batch.FailAll(error);
                _batches.Return(batch);
                _open[bucket] = null;
                _openFull[bucket] = DispatchReason.None;
            }
        }

        for (int lane = 0; lane < _heads.Length; lane++)
        {
            ref var head = ref _heads[lane];
            head.Completion?.TryCancel(head.Generation, error);
            head = default;
            var spinner = default(SpinWait);
            while (!_intake[lane].IsDrainedAfterClose)
            {
                if (_intake[lane].TryDequeue(out var item))
                {
                    item.Completion.TryCancel(item.Generation, error);
                }
                else
                {
                    spinner.SpinOnce(sleep1Threshold: -1); // a producer between its claim and its publish
                }
            }
        }

        PublishRoom();
        _batches.FailWaiting(_prefetch, error);
        _prefetch.Complete();
        _workers.WakeAll();
        _workers.TakeOverResumers();
    }
}

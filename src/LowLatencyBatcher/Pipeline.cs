using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Packing;
using LowLatencyBatcher.Packing.Rules;

namespace LowLatencyBatcher;

/// <summary>
/// One run of a batcher, from start to stop: builds the intake lanes, the packing loop, the prefetch ring, the
/// workers and the batch pool, wires each to the narrow parts of the others it needs, and runs the idle fast path.
/// A restart builds a new one, so nothing of a stopped run can leak into the next.
/// </summary>
/// <remarks>
/// Stopping: <see cref="BeginStop"/> closes the intake (every later submit is refused; every accepted record is
/// still drained) and wakes whoever waits. <see cref="RunLifetime.Finished"/> completes once the packing thread and
/// every worker are done, or once an <see cref="Abort"/> has failed every record it could reach: records inside a
/// process call that ignores its token are failed right away by the stopping thread, and their late results are
/// dropped.
/// </remarks>
internal sealed class Pipeline<TRecord, TResult>
{
    private readonly LiveSettings<TRecord> _live;
    private readonly WorkerSet<TRecord, TResult> _workers = new();
    private readonly HoldGuard _holdGuard;
    private readonly CompletionPool<TResult> _completions;
    private readonly ProcessFn<TRecord, TResult>? _listFunction; // runs lone records without a batch; null: per-record shape
    private readonly Task _previousWorkersExited;
    private long _acceptedAlone; // records the idle fast path ran without the intake

    /// <summary>Builds a run; <see cref="Start"/> starts its threads.</summary>
    /// <param name="live">The batcher's configuration (its shape is fixed; its rules may change).</param>
    /// <param name="call">The process function, in its shape.</param>
    /// <param name="completions">The batcher's pool of completions.</param>
    /// <param name="counters">The batcher's statistics, kept across runs.</param>
    /// <param name="previousWorkersExited">Completes when the previous run's workers have all exited (see <see cref="Start"/>).</param>
    public Pipeline(
        LiveSettings<TRecord> live,
        ProcessCall<TRecord, TResult> call,
        CompletionPool<TResult> completions,
        BatcherCounters counters,
        Task? previousWorkersExited = null)
    {
        var settings = live.Current;
        _live = live;
        _completions = completions;
        _listFunction = call.ListFunction;
        _previousWorkersExited = previousWorkersExited ?? Task.CompletedTask;
        Run = new RunLifetime(settings.Workers);
        Intake = new IntakeLanes<IntakeItem<TRecord, TResult>>(settings.PriorityLanes, settings.MaxQueueSize);
        Prefetch = new BatchRing<Batch<TRecord, TResult>>(settings.PrefetchBatches);
        Batches = new BatchPool<TRecord, TResult>(settings, live, counters);
        Packer = new PackingLoop<TRecord, TResult>(live, Intake, Prefetch, Batches, _workers, Run);
        _workers.Populate(settings.Workers, () => new Worker<TRecord, TResult>(
            Prefetch, Packer, Run, Batches, new BatchRunner<TRecord, TResult>(call, live, Run, Batches, completions, counters), settings.TimeProvider));
        _holdGuard = new HoldGuard(settings.TimeProvider);
    }

    /// <summary>The run's life: abort state, the process function's token, who is still running.</summary>
    public RunLifetime Run { get; }

    /// <summary>The intake lanes.</summary>
    public IntakeLanes<IntakeItem<TRecord, TResult>> Intake { get; }

    /// <summary>The prefetch ring of sealed batches.</summary>
    public BatchRing<Batch<TRecord, TResult>> Prefetch { get; }

    /// <summary>The run's batches.</summary>
    public BatchPool<TRecord, TResult> Batches { get; }

    /// <summary>The packing loop.</summary>
    public PackingLoop<TRecord, TResult> Packer { get; }

    /// <summary>The run's state in words, for a test that found it hung (a racy snapshot).</summary>
    public string Describe() =>
        $"aborting {Run.IsAborting}, finished {Run.Finished.IsCompleted}, packing thread exited {Run.PackingThreadExited}, " +
        $"workers running {Run.WorkersRunning}; intake: accepted {Intake.AcceptedCount}, closed {Intake.IsClosed}, " +
        $"waiting {Intake.WaitingCount}, drained {Intake.IsDrainedAfterClose}; alone {Volatile.Read(ref _acceptedAlone)}; " +
        $"prefetch: {Prefetch.Count}, completed {Prefetch.IsCompleted}; packer: {Packer.Describe()}; {_workers.Describe()}";

    /// <summary>Records ever accepted by this run: through the intake, and run alone by the idle fast path.</summary>
    public long AcceptedCount => Intake.AcceptedCount + Volatile.Read(ref _acceptedAlone);

    /// <summary>
    /// Whether some worker is parked with no callers left to resume, so the fast path could borrow it (tests and
    /// diagnostics).
    /// </summary>
    public bool HasParkedWorker => !Packer.ResumerWillPack && _workers.AnyParked;

    /// <summary>
    /// The idle fast path (rule 3 for a lone record, run on the submitter's thread): when nothing accepted earlier is
    /// still queued, packing or waiting in the prefetch ring, <c>MinBatchSize</c> is 1 and a worker is parked, borrows
    /// that worker and runs <paramref name="record"/> as an eager batch of one right here, stamped as submitted now.
    /// False, having touched nothing, when the batcher is not idle; the record then goes through the intake as usual.
    /// </summary>
    /// <remarks>
    /// <para>Order: a caller's earlier records were accepted before this call, so "everything accepted was handed off"
    /// read here covers them; records of other callers accepted meanwhile are concurrent with this one. The worker
    /// bound holds because a borrowed worker cannot take a batch from the ring until it is given back.</para>
    /// <para>A list-shaped function gets the record without a batch (<see cref="Worker{TRecord, TResult}.RunLone"/>):
    /// a synchronous call's result goes straight into the returned task, with no completion, batch or view touched,
    /// which is what a lone record at an idle batcher spends its time on when the machine's caches have gone cold.
    /// The per-record shape gives outcomes through a batch's view, so its lone records run in a batch of one.</para>
    /// </remarks>
    /// <param name="record">The record.</param>
    /// <param name="cost">Its estimated cost.</param>
    /// <param name="lane">Its priority lane.</param>
    /// <param name="token">The caller's token: cancels the record while its call is asynchronous.</param>
    /// <param name="result">Its result, when it ran.</param>
    public bool TryRunAlone(TRecord record, int cost, int lane, CancellationToken token, out ValueTask<TResult> result)
    {
        var settings = _live.Current;
        result = default;
        // Callers being resumed will submit again at once, and whoever resumes them packs their records: not idle.
        if (!settings.RunAloneWhenIdle || settings.Rules.MinBatchSize > 1 || Packer.ResumerWillPack || !_holdGuard.AllowsRun())
        {
            return false;
        }

        var worker = _workers.TryBorrowParked();
        if (worker is null)
        {
            return false;
        }

        // Read after the borrow's full fence. Accepted before handed-off: both only grow, so equality means every record
        // accepted before the first read had left the packing thread by the second; the ring then must be empty.
        long accepted = Intake.AcceptedCount;
        if (accepted != Packer.HandedOff || !Prefetch.IsEmpty || Intake.IsClosed)
        {
            worker.GiveBack();
            return false;
        }

        Interlocked.Increment(ref _acceptedAlone); // atomic: several submitters may run alone at once (one per parked worker)
        // One clock read: the record's submit stamp is also its batch's start.
        long arrival = settings.TimeProvider.GetTimestamp();
        long ended = _listFunction is { } function
            ? worker.RunLone(function, record, settings.Rules.CostOf(1, cost, cost), arrival, token, out result)
            : RunInBatchOfOne(worker, settings.Rules, record, cost, arrival, lane, token, out result);
        _holdGuard.Record(ended - arrival, ended);
        return true;
    }

    /// <summary>The per-record shape's lone record: an eager batch of one, run by the borrowed worker.</summary>
    private long RunInBatchOfOne(
        Worker<TRecord, TResult> worker,
        BatchRules rules,
        TRecord record,
        int cost,
        long arrival,
        int lane,
        CancellationToken token,
        out ValueTask<TResult> result)
    {
        var completion = _completions.Rent();
        var batch = Batches.Rent();
        batch.Open(rules, arrival);
        batch.Add(new IntakeItem<TRecord, TResult>(
            record, completion, completion.Generation, cost, arrival, (byte)lane, MayBeDropped: token.CanBeCanceled));
        batch.Reason = DispatchReason.Eager;
        long ended = worker.RunBorrowed(batch, started: arrival);
        result = completion.Task;
        if (!result.IsCompleted)
        {
            completion.Arm(token); // handed to a worker at once: no deadline applies, a token only while pending
        }

        return ended;
    }

    /// <summary>
    /// Starts the packing thread, and the workers once the previous run's workers have all exited: after an aborted
    /// stop, a process call that ignores its token may still be running, and a restart must not let more than
    /// <c>Workers</c> calls run at once. Records submitted meanwhile are accepted and packed; they wait for a worker.
    /// </summary>
    public void Start()
    {
        Packer.Start();
        if (_previousWorkersExited.IsCompleted)
        {
            _workers.Start();
        }
        else
        {
            _previousWorkersExited.ContinueWith(
                static (_, workers) => ((WorkerSet<TRecord, TResult>)workers!).Start(),
                _workers,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>Refuses new records and lets the run drain what it accepted. Idempotent.</summary>
    public void BeginStop()
    {
        Intake.Close(); // also wakes waiting submitters, who see the closed ring and are refused
        Packer.Parker.Unpark(); // Close's atomic ORs were full fences, as Unpark requires
    }

    /// <summary>
    /// Gives up on the drain: cancels the process function's token and fails every record not finished yet with an
    /// <see cref="OperationCanceledException"/> for <paramref name="token"/>. Call after <see cref="BeginStop"/>.
    /// </summary>
    public void Abort(CancellationToken token)
    {
        if (!Run.TryBeginAbort(new OperationCanceledException("The batcher was stopped before this record completed.", token)))
        {
            return;
        }

        // Batches inside process calls (which may ignore their token) and batches no worker took yet.
        _workers.FailBatchesInHand(Run.AbortError);
        Batches.FailWaiting(Prefetch, Run.AbortError);
        Packer.Parker.Unpark(); // the packing thread fails the intake and the open batch, then exits
        Run.FinishIfPackingThreadExited();
    }
}

using System.Runtime.CompilerServices;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Packing;
using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher;

/// <summary>
/// One run of a batcher, from start to stop: the intake ring, the packing thread, the prefetch ring and the
/// workers. A restart builds a new one, so nothing of a stopped run can leak into the next.
/// </summary>
/// <remarks>
/// Stopping: <see cref="BeginStop"/> closes the intake (every later submit is refused; every accepted record is
/// still drained) and wakes whoever waits. <see cref="Finished"/> completes once the packing thread and every worker
/// are done, or once an <see cref="Abort"/> has failed every record it could reach: records inside a process call
/// that ignores its token are failed right away by the stopping thread, and their late results are dropped.
/// </remarks>
internal sealed class Pipeline<TRecord, TResult>
{
    private readonly ObjectPool<Batch<TRecord, TResult>> _batches;
    private readonly CancellationTokenSource _processCancellation = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Worker<TRecord, TResult>[] _workers;
    private readonly LiveSettings<TRecord> _live;
    private Exception? _abortError; // set once, by the first abort or packing-thread failure, before _aborting
    private int _aborting;
    private int _packingThreadExited;
    private int _participants;
    private int _workersLeft;
    private readonly TaskCompletionSource _workersExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _previousWorkersExited;
    private long _acceptedAlone; // records the idle fast path ran without the intake
    private readonly HoldGuard _holdGuard;

    /// <summary>Builds a run; <see cref="Start"/> starts its threads.</summary>
    public Pipeline(
        LiveSettings<TRecord> live,
        ProcessFn<TRecord, TResult>? processFn,
        ProcessEachFn<TRecord, TResult>? processEach,
        BatcherCounters counters,
        Task? previousWorkersExited = null)
    {
        _previousWorkersExited = previousWorkersExited ?? Task.CompletedTask;
        ProcessEach = processEach;
        _live = live;
        var settings = live.Current;
        Settings = settings;
        ProcessFn = processFn;
        Counters = counters;
        Intake = new IntakeLanes<IntakeItem<TRecord, TResult>>(settings.PriorityLanes, settings.MaxQueueSize);
        Prefetch = new BatchRing<Batch<TRecord, TResult>>(settings.PrefetchBatches);

        // Batches alive at once: one open per cost bucket, the prefetched ones, and per worker the one it runs and the
        // last one whose callers it is resuming (plus slack for a worker that has just taken one while the packing
        // thread opens the next, and for a resumption handed to the pool).
        _batches = new DefaultObjectPool<Batch<TRecord, TResult>>(
            new BatchPolicy(live, counters), settings.Rules.BucketCount + settings.PrefetchBatches + 2 * settings.Workers + 2);
        _workers = new Worker<TRecord, TResult>[settings.Workers];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Worker<TRecord, TResult>(this);
        }

        Packer = new PackingLoop<TRecord, TResult>(this);
        _holdGuard = new HoldGuard(settings.TimeProvider);
        _participants = _workers.Length + 1;
        _workersLeft = _workers.Length;
    }

    /// <summary>The configuration the run started with: its engine shape (queue, prefetch, workers, clock) never changes.</summary>
    public BatcherSettings<TRecord> Settings { get; }

    /// <summary>The packing rules in force now (a reconfiguration may have changed them since the start).</summary>
    public PackingRules CurrentRules => _live.Current.Rules;

    /// <summary>The observer in force now.</summary>
    public IBatchObserver? Observer => _live.Current.Observer;

    /// <summary>The list-returning process function, or null when <see cref="ProcessEach"/> is used.</summary>
    public ProcessFn<TRecord, TResult>? ProcessFn { get; }

    /// <summary>The per-record process function, or null when <see cref="ProcessFn"/> is used.</summary>
    public ProcessEachFn<TRecord, TResult>? ProcessEach { get; }

    /// <summary>Whether a failing batch is retried in halves (the setting in force now).</summary>
    public bool IsolateFailures => _live.Current.IsolateFailures;

    public BatcherCounters Counters { get; }

    public IntakeLanes<IntakeItem<TRecord, TResult>> Intake { get; }

    public BatchRing<Batch<TRecord, TResult>> Prefetch { get; }

    public PackingLoop<TRecord, TResult> Packer { get; }

    /// <summary>The token passed to the process function: cancelled when a stop is aborted.</summary>
    public CancellationToken ProcessCancellation => _processCancellation.Token;

    /// <summary>True once <see cref="Abort"/> (or a failure of the packing thread) began.</summary>
    public bool IsAborting => Volatile.Read(ref _aborting) != 0;

    /// <summary>The exception given to records an abort completes: the first abort's (or packing-thread failure's).</summary>
    public Exception AbortError => Volatile.Read(ref _abortError) ?? new OperationCanceledException();

    /// <summary>Completes when the run is over: drained, or aborted.</summary>
    public Task Finished => _finished.Task;

    /// <summary>Records ever accepted by this run: through the intake, and run alone by the idle fast path.</summary>
    public long AcceptedCount => Intake.AcceptedCount + Volatile.Read(ref _acceptedAlone);

    /// <summary>
    /// The idle fast path (rule 3 for a lone record, run on the submitter's thread): when nothing accepted earlier is
    /// still queued, packing or waiting in the prefetch ring, <c>MinBatchSize</c> is 1 and a worker is parked, borrows
    /// that worker and runs <paramref name="item"/> as an eager batch of one right here. False, having touched
    /// nothing, when the batcher is not idle; the record then goes through the intake as usual.
    /// </summary>
    /// <remarks>
    /// Order: a caller's earlier records were accepted before this call, so "everything accepted was handed off" read
    /// here covers them; records of other callers accepted meanwhile are concurrent with this one. The worker bound
    /// holds because a borrowed worker cannot take a batch from the ring until it is given back.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryRunAlone(in IntakeItem<TRecord, TResult> item)
    {
        var settings = _live.Current;
        // Callers being resumed will submit again at once, and whoever resumes them packs their records: not idle.
        if (!settings.RunAloneWhenIdle || settings.Rules.MinBatchSize > 1 || Packer.ResumerWillPack || !_holdGuard.AllowsRun())
        {
            return false;
        }

        var worker = BorrowParkedWorker();
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

        Interlocked.Increment(ref _acceptedAlone);
        var batch = RentBatch();
        batch.Open(settings.Rules, item.Arrival);
        batch.Add(item);
        batch.Reason = DispatchReason.Eager;
        // The record started when it was submitted: its arrival stamp is the batch's start (one clock read fewer).
        long ended = worker.RunBorrowed(batch, started: item.Arrival);
        _holdGuard.Record(ended - item.Arrival, ended);
        return true;
    }

    /// <summary>
    /// Whether some worker is parked with no callers left to resume, so the fast path could borrow it (tests and
    /// diagnostics).
    /// </summary>
    public bool HasParkedWorker => !Packer.ResumerWillPack && Array.Exists(_workers, worker => worker.IsParked);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Worker<TRecord, TResult>? BorrowParkedWorker()
    {
        foreach (var worker in _workers)
        {
            if (worker.TryBorrow())
            {
                return worker;
            }
        }

        return null;
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
            StartWorkers();
        }
        else
        {
            _previousWorkersExited.ContinueWith(
                static (_, state) => ((Pipeline<TRecord, TResult>)state!).StartWorkers(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    private void StartWorkers()
    {
        foreach (var worker in _workers)
        {
            worker.Start();
        }
    }

    /// <summary>Completes once every worker of this run has exited (its last process call has returned).</summary>
    public Task WorkersExited => _workersExited.Task;

    /// <summary>A worker exited.</summary>
    public void OnWorkerExited()
    {
        if (Interlocked.Decrement(ref _workersLeft) == 0)
        {
            _workersExited.TrySetResult();
        }

        OnParticipantExited();
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
        SetAbortError(new OperationCanceledException("The batcher was stopped before this record completed.", token));
        if (Interlocked.Exchange(ref _aborting, 1) != 0)
        {
            return;
        }

        try
        {
            _processCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A callback the process function registered on its token threw. The abort must go on regardless;
            // that callback's own caller (the process function) is the one to observe it.
        }

        // Batches inside process calls (which may ignore their token) and batches no worker took yet.
        foreach (var worker in _workers)
        {
            worker.TakeCurrentBatch()?.FailAll(AbortError);
        }

        FailPrefetched();
        Packer.Parker.Unpark(); // the packing thread fails the intake and the open batch, then exits
        if (Volatile.Read(ref _packingThreadExited) != 0)
        {
            _finished.TrySetResult(); // it had already exited: nothing more will come from it
        }
    }

    /// <summary>The packing thread failed (a defect): fails every accepted record with the exception.</summary>
    public void FailFromPackingThread(Exception exception)
    {
        SetAbortError(new InvalidOperationException("The batcher's packing thread failed.", exception));
        Interlocked.Exchange(ref _aborting, 1);
        Intake.Close();
        _processCancellation.Cancel();
    }

    /// <summary>Fails every batch waiting in the prefetch ring (any thread, during an abort).</summary>
    public void FailPrefetched()
    {
        while (Prefetch.TryDequeue(out var batch))
        {
            batch.FailAll(AbortError);
            ReturnBatch(batch);
        }
    }

    /// <summary>Whether some worker waits for a batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool AnyWorkerIdle()
    {
        foreach (var worker in _workers)
        {
            if (worker.IsIdle)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Wakes one parked worker, if any (whoever packs, right after publishing a batch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void WakeOneWorker()
    {
        foreach (var worker in _workers)
        {
            if (worker.TryWake())
            {
                return;
            }
        }
    }

    /// <summary>Wakes every parked worker (the packing thread, after completing the prefetch ring).</summary>
    public void WakeAllWorkers()
    {
        Interlocked.MemoryBarrier(); // the ring's completion flag is a plain release store: order it before the reads
        foreach (var worker in _workers)
        {
            worker.TryWake();
        }
    }

    /// <summary>A batch for the packing thread to fill.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Batch<TRecord, TResult> RentBatch() => _batches.Get();

    /// <summary>Empties a batch and returns it to the pool.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ReturnBatch(Batch<TRecord, TResult> batch)
    {
        batch.Clear();
        _batches.Return(batch);
    }

    /// <summary>The packing thread exited.</summary>
    public void OnPackingThreadExited()
    {
        Interlocked.Exchange(ref _packingThreadExited, 1); // full fence before the abort flag is read
        if (IsAborting)
        {
            _finished.TrySetResult();
        }

        OnParticipantExited();
    }

    /// <summary>Workers that have not exited yet (the packing thread, while it runs, counts itself out).</summary>
    public int WorkersRunning => Volatile.Read(ref _participants) - (Volatile.Read(ref _packingThreadExited) == 0 ? 1 : 0);

    /// <summary>The packing thread or a worker exited; the last one out completes <see cref="Finished"/>.</summary>
    public void OnParticipantExited()
    {
        if (Interlocked.Decrement(ref _participants) == 0)
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>Keeps <paramref name="error"/> unless an earlier abort or failure set its own: the first one wins.</summary>
    private void SetAbortError(Exception error) => Interlocked.CompareExchange(ref _abortError, error, null);

    private sealed class BatchPolicy(LiveSettings<TRecord> live, BatcherCounters counters) : IPooledObjectPolicy<Batch<TRecord, TResult>>
    {
        public Batch<TRecord, TResult> Create() => new(live.Current.Rules.MaxBatchSize, counters);

        public bool Return(Batch<TRecord, TResult> obj) => true;
    }
}

using System.Runtime.ExceptionServices;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher;

/// <summary>
/// Packs records submitted concurrently by many callers into cost-budgeted batches, runs each batch through one
/// process function, and hands every caller its own record's result.
/// </summary>
/// <remarks>
/// <para>Every accepted record completes exactly once: with its result, with the batch's exception, or as cancelled.
/// A submit that cannot be accepted throws instead. The packing rules are described in <c>docs/design.md</c>.</para>
/// <para>A steady-state <see cref="SubmitAsync(TRecord, int?, CancellationToken)"/> whose task is awaited once allocates nothing: its completion comes
/// from a pool and returns to it when the await reads the result. Await each task exactly once.</para>
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public class DynamicBatcher<TRecord, TResult> : IAsyncDisposable
{
    private readonly ProcessCall<TRecord, TResult> _call;
    private readonly LiveSettings<TRecord> _settings;
    private readonly BatcherCounters _counters;
    private readonly CompletionPool<TResult> _completions;
    private readonly Lock _lifecycle = new();
    private volatile Pipeline<TRecord, TResult>? _pipeline;
    private Task _lastRunWorkersExited = Task.CompletedTask; // a restart's workers start after these (see Pipeline.Start)
    private bool _disposed;

    /// <summary>Creates a batcher; call <see cref="StartAsync"/> before submitting.</summary>
    /// <param name="processFn">Processes one batch; see <see cref="ProcessFn{TRecord, TResult}"/>.</param>
    /// <param name="options">The knobs; null takes every default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="processFn"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option breaks its rule; the exception names it.</exception>
    public DynamicBatcher(ProcessFn<TRecord, TResult> processFn, DynamicBatcherOptions<TRecord>? options = null)
        : this(processFn, options ?? new DynamicBatcherOptions<TRecord>(), tokenBatcher: false)
    {
    }

    /// <summary>
    /// Creates a batcher whose process function gives each record its own outcome; call <see cref="StartAsync"/>
    /// before submitting.
    /// </summary>
    /// <param name="processEach">Processes one batch record by record; see <see cref="ProcessEachFn{TRecord, TResult}"/>.</param>
    /// <param name="options">The knobs; null takes every default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="processEach"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option breaks its rule; the exception names it.</exception>
    public DynamicBatcher(ProcessEachFn<TRecord, TResult> processEach, DynamicBatcherOptions<TRecord>? options = null)
        : this(null, processEach ?? throw new ArgumentNullException(nameof(processEach)), options ?? new DynamicBatcherOptions<TRecord>(), tokenBatcher: false)
    {
    }

    private protected DynamicBatcher(
        ProcessFn<TRecord, TResult> processFn, DynamicBatcherOptions<TRecord> options, bool tokenBatcher)
        : this(processFn ?? throw new ArgumentNullException(nameof(processFn)), null, options, tokenBatcher)
    {
    }

    private protected DynamicBatcher(
        ProcessFn<TRecord, TResult>? processFn,
        ProcessEachFn<TRecord, TResult>? processEach,
        DynamicBatcherOptions<TRecord> options,
        bool tokenBatcher)
    {
        _call = ProcessCall<TRecord, TResult>.Of(processFn, processEach);
        var settings = BatcherSettings<TRecord>.From(options, tokenBatcher);
        _settings = new LiveSettings<TRecord>(settings);
        _counters = new BatcherCounters(settings.TimeProvider);
        _completions = new CompletionPool<TResult>(settings.MaxRecordsInFlight, _counters);
    }

    /// <summary>True between <see cref="StartAsync"/> and the beginning of <see cref="StopAsync"/>.</summary>
    public bool IsRunning => _pipeline is { } pipeline && !pipeline.Intake.IsClosed;

    /// <summary>A snapshot of the statistics, accumulated over every run.</summary>
    public BatchStats Stats
    {
        get
        {
            lock (_lifecycle)
            {
                var pipeline = _pipeline;
                return _counters.Snapshot(() => pipeline?.AcceptedCount ?? 0, pipeline?.Intake.WaitingCount ?? 0);
            }
        }
    }

    /// <summary>The CPU the packing thread is pinned to, or -1 when it is not pinned (or not running).</summary>
    public int PackingThreadCpu => _pipeline?.Packer.PinnedCpu ?? -1;

    /// <summary>Whether a worker is parked and may be borrowed by the idle fast path (for tests and diagnostics).</summary>
    internal bool HasParkedWorker => _pipeline?.HasParkedWorker ?? false;

    /// <summary>The running engine's state in words (for a test that found it hung), or "not running".</summary>
    internal string DescribeEngine() => _pipeline?.Describe() ?? "not running";

    /// <summary>How many record completions the batcher keeps for reuse (for tests and diagnostics).</summary>
    internal int CompletionsRetained => _completions.MaximumRetained;

    /// <summary>Sealed batches waiting for a worker right now (for tests and diagnostics).</summary>
    internal int PrefetchedBatchCount => _pipeline?.Prefetch.Count ?? 0;

    /// <summary>
    /// Changes the configuration of a created or running batcher; the change applies from the next batch. Every option
    /// may change except those of <see cref="CreationOnlyOptions"/>, which shape the engine (<c>MaxQueueSize</c>,
    /// <c>PrefetchBatches</c>, <c>Workers</c>, <c>PinPackingThread</c>, <c>PriorityLanes</c>, <c>PriorityAging</c>,
    /// <c>CostBuckets</c>, <c>TimeProvider</c>): a change of one of them is refused.
    /// </summary>
    /// <param name="options">The whole new configuration; it is checked like the constructor's, with the same messages.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option breaks its rule; the exception names it.</exception>
    /// <exception cref="ArgumentException">An option of the engine's shape differs from the one in force.</exception>
    public void Reconfigure(DynamicBatcherOptions<TRecord> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_lifecycle)
        {
            var next = _settings.Current.Reconfigured(options);
            _completions.RetainAtLeast(next.MaxRecordsInFlight); // more records in flight must not bring allocation back
            _settings.Current = next;
        }
    }

    /// <summary>
    /// Starts the packing thread and the workers. A stopped batcher may be started again; after an aborted stop, the new
    /// workers start only once every process call of the previous run has returned, so at most <c>Workers</c> calls
    /// ever run at once (records submitted meanwhile are accepted and wait for them).
    /// </summary>
    /// <exception cref="InvalidOperationException">It is already running, or a stop is still in progress.</exception>
    /// <exception cref="ObjectDisposedException">It was disposed.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pipeline is { } current)
            {
                throw new InvalidOperationException(current.Intake.IsClosed
                    ? "The batcher is still stopping; await StopAsync before starting it again."
                    : "The batcher is already running.");
            }

            var pipeline = new Pipeline<TRecord, TResult>(_settings, _call, _completions, _counters, _lastRunWorkersExited);
            _counters.OnRunStarted();
            pipeline.Start();
            _pipeline = pipeline;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting records and completes every record already accepted: a partial batch is flushed at once.
    /// Does nothing when the batcher is not running; concurrent calls all wait for the same drain.
    /// </summary>
    /// <param name="cancellationToken">
    /// When cancelled before the drain ends, the process function's token is cancelled, every record not finished
    /// yet completes with an <see cref="OperationCanceledException"/> (its late result, if any, is dropped), and this
    /// call throws <see cref="OperationCanceledException"/>.
    /// </param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        Pipeline<TRecord, TResult>? pipeline;
        lock (_lifecycle)
        {
            pipeline = _pipeline;
            if (pipeline is null)
            {
                return;
            }

            pipeline.BeginStop();
        }

        try
        {
            await pipeline.Run.Finished.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (pipeline.Run.Finished.IsCompleted)
            {
                EndRun(pipeline); // the drain won the race with the token: nothing to abort
                return;
            }

            pipeline.Abort(cancellationToken);
            await pipeline.Run.Finished.ConfigureAwait(false); // the packing thread's share of the abort; it runs no user code
            EndRun(pipeline);
            throw;
        }

        EndRun(pipeline);
    }

    /// <summary>Stops the batcher (draining every accepted record) and refuses any later start or submit.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            _disposed = true;
        }

        await StopAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Submits one record and returns its result once its batch was processed. Waits asynchronously while
    /// <c>MaxQueueSize</c> records are queued (backpressure). Await the returned task exactly once.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="estimatedCost">Its cost; when null it is estimated (estimator function, <see cref="ICostEstimator"/>, default).</param>
    /// <param name="cancellationToken">
    /// Cancels the submit: a record not yet handed to a worker never reaches the process function; one already
    /// handed over has its task cancelled at once and its result dropped.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="estimatedCost"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The batcher is not running, or is stopping.</exception>
    public ValueTask<TResult> SubmitAsync(
        TRecord record, int? estimatedCost = null, CancellationToken cancellationToken = default) =>
        Submit(record, new SubmitOptions { EstimatedCost = estimatedCost }, cancellationToken);

    /// <summary>
    /// Submits one record with per-record settings (estimates, timeout) and returns its result once its batch was
    /// processed. Behaves as <see cref="SubmitAsync(TRecord, int?, CancellationToken)"/> otherwise.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="options">Its estimates and timeout.</param>
    /// <param name="cancellationToken">Cancels the submit.</param>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An estimate is negative, or the timeout is not positive.</exception>
    /// <exception cref="InvalidOperationException">The batcher is not running, or is stopping.</exception>
    /// <exception cref="QueueFullException">The queue is full and the full-queue mode is <see cref="QueueFullMode.Reject"/>.</exception>
    public ValueTask<TResult> SubmitAsync(
        TRecord record, SubmitOptions options, CancellationToken cancellationToken = default) =>
        Submit(record, options, cancellationToken);

    /// <summary>
    /// Submits one record if there is room right now; never waits. Returns false when <c>MaxQueueSize</c> records are
    /// queued. Throws like <see cref="SubmitAsync(TRecord, int?, CancellationToken)"/> when the record is invalid or the batcher is not running.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="result">Its result, when accepted; await it exactly once.</param>
    /// <param name="estimatedCost">Its cost; when null it is estimated.</param>
    public bool TrySubmit(TRecord record, out ValueTask<TResult> result, int? estimatedCost = null) =>
        TrySubmit(record, new SubmitOptions { EstimatedCost = estimatedCost }, out result);

    /// <summary>
    /// Submits one record with per-record settings (estimates, priority, timeout) if there is room right now in its
    /// lane; never waits. Returns false when the lane is full (or others wait for room in it).
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="options">Its estimates, priority and timeout.</param>
    /// <param name="result">Its result, when accepted; await it exactly once.</param>
    /// <param name="cancellationToken">Cancels the record once accepted.</param>
    public bool TrySubmit(
        TRecord record, SubmitOptions options, out ValueTask<TResult> result, CancellationToken cancellationToken = default)
    {
        var settings = _settings.Current;
        var pipeline = Prepare(settings, record, options, out int cost);
        if (pipeline.TryRunAlone(record, cost, options.Priority, cancellationToken, out result))
        {
            return true;
        }

        var item = NewItem(settings, pipeline, record, cost, options.Priority, options.Timeout, cancellationToken);
        if (TryAdmit(settings, pipeline, item, options.Timeout, cancellationToken, out result))
        {
            return true;
        }

        item.Completion.Discard();
        return false;
    }

    /// <summary>
    /// Submits records in order (waiting for room as needed, so they enter batches in this order), then returns their
    /// results in the same order. If some records fail, every record is still awaited and the first failure is thrown.
    /// </summary>
    /// <param name="records">The records.</param>
    /// <param name="cancellationToken">Cancels the records not yet handed to a worker.</param>
    public Task<IReadOnlyList<TResult>> SubmitManyAsync(
        IEnumerable<TRecord> records, CancellationToken cancellationToken = default) =>
        SubmitManyAsync(records, default, cancellationToken);

    /// <summary>
    /// Submits records in order with the same per-record settings (priority, timeout; estimates, when given, apply to
    /// every record), then returns their results in the same order. Each record's timeout counts from its own submit.
    /// If some records fail, every record is still awaited and the first failure is thrown.
    /// </summary>
    /// <param name="records">The records.</param>
    /// <param name="options">The settings of every record; leave the estimates null to estimate each record.</param>
    /// <param name="cancellationToken">Cancels the records not yet handed to a worker.</param>
    public async Task<IReadOnlyList<TResult>> SubmitManyAsync(
        IEnumerable<TRecord> records, SubmitOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        var pending = new List<ValueTask<TResult>>();
        ExceptionDispatchInfo? failure = null;
        try
        {
            foreach (var record in records)
            {
                // More records follow: never run one alone, or none of them would share a batch.
                pending.Add(await AdmitAsync(record, options, allowAlone: false, cancellationToken).ConfigureAwait(false));
            }
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
        }

        var results = new TResult[pending.Count];
        for (int i = 0; i < pending.Count; i++)
        {
            try
            {
                results[i] = await pending[i].ConfigureAwait(false);
            }
            catch (Exception e)
            {
                failure ??= ExceptionDispatchInfo.Capture(e);
            }
        }

        failure?.Throw();
        return results;
    }

    /// <summary>The submit path shared with <see cref="TokenBatcher{TRecord, TResult}"/>.</summary>
    private protected ValueTask<TResult> Submit(TRecord record, in SubmitOptions options, CancellationToken cancellationToken)
    {
        var admission = AdmitAsync(record, options, allowAlone: true, cancellationToken);
        return admission.IsCompletedSuccessfully ? admission.Result : ResultWhenAdmittedAsync(admission);
    }

    private static async ValueTask<TResult> ResultWhenAdmittedAsync(ValueTask<ValueTask<TResult>> admission) =>
        await (await admission.ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>
    /// The one admission path of every submit: checks the record, runs it alone when the batcher is idle, else offers it
    /// to its lane, else (in <see cref="QueueFullMode.Wait"/>) waits in line for room. Completes once the record was
    /// accepted, with the task of its result; its timeout counts from this call.
    /// </summary>
    private ValueTask<ValueTask<TResult>> AdmitAsync(
        TRecord record, in SubmitOptions options, bool allowAlone, CancellationToken cancellationToken)
    {
        var settings = _settings.Current;
        var pipeline = Prepare(settings, record, options, out int cost);
        if (cancellationToken.IsCancellationRequested)
        {
            return new(ValueTask.FromCanceled<TResult>(cancellationToken));
        }

        if (allowAlone && pipeline.TryRunAlone(record, cost, options.Priority, cancellationToken, out var alone))
        {
            return new(alone);
        }

        var item = NewItem(settings, pipeline, record, cost, options.Priority, options.Timeout, cancellationToken);
        if (TryAdmit(settings, pipeline, item, options.Timeout, cancellationToken, out var result))
        {
            return new(result);
        }

        ThrowIfRejecting(settings, item);
        return WaitForRoomAsync(settings, pipeline, item, options.Timeout, cancellationToken);
    }

    /// <summary>Admits the item into its lane if it has room, without waiting.</summary>
    private bool TryAdmit(
        BatcherSettings<TRecord> settings,
        Pipeline<TRecord, TResult> pipeline,
        in IntakeItem<TRecord, TResult> item,
        TimeSpan? timeout,
        CancellationToken cancellationToken,
        out ValueTask<TResult> result)
    {
        if (!Offer(pipeline, item))
        {
            result = default;
            return false;
        }

        result = Accepted(settings, pipeline, item, timeout, cancellationToken);
        return true;
    }

    private Pipeline<TRecord, TResult> Prepare(
        BatcherSettings<TRecord> settings, TRecord record, in SubmitOptions options, out int cost)
    {
        if (record is null)
        {
            ThrowHelper.ArgumentNull(nameof(record));
        }

        var pipeline = _pipeline;
        if (pipeline is null || pipeline.Intake.IsClosed)
        {
            ThrowHelper.Throw(NotAccepting(pipeline));
        }

        if ((uint)options.Priority >= (uint)settings.PriorityLanes)
        {
            ThrowHelper.ArgumentOutOfRange(
                nameof(options.Priority),
                options.Priority,
                $"Priority must be between 0 (the most urgent) and {settings.PriorityLanes - 1} (PriorityLanes - 1).");
        }

        if (options.Timeout is { } timeout)
        {
            BatcherSettings<TRecord>.CheckTimeout(timeout, nameof(options.Timeout));
        }

        cost = CostEstimation.Resolve(settings, record, options.EstimatedTokens, options.EstimatedCost);
        return pipeline;
    }

    private void ThrowIfRejecting(BatcherSettings<TRecord> settings, in IntakeItem<TRecord, TResult> item)
    {
        if (settings.QueueFullMode == QueueFullMode.Reject)
        {
            _counters.AddRejected();
            item.Completion.Discard();
            throw new QueueFullException(settings.MaxQueueSize);
        }
    }

    /// <summary>
    /// Rents the record's completion and stamps its arrival (its deadline and its batch's timeout count from here),
    /// except when nothing needs the record's own submit time: no deadline (<paramref name="timeout"/>, else the
    /// default), no observer, no lanes to age, and a resumer is running callers' continuations that packs what they
    /// submit as soon as its turn ends. Then the batch the record opens counts from when it is packed (rule 3): that
    /// skips a clock read, the largest single cost of a submit under load.
    /// </summary>
    private IntakeItem<TRecord, TResult> NewItem(
        BatcherSettings<TRecord> settings,
        Pipeline<TRecord, TResult> pipeline,
        TRecord record,
        int cost,
        int lane,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        var completion = _completions.Rent();
        bool hasDeadline = (timeout ?? settings.DefaultTimeout) is not null;
        bool stamp = settings.StampsEverySubmit || hasDeadline || !pipeline.Packer.ResumerWillPack;
        long arrival = stamp ? settings.TimeProvider.GetTimestamp() : Timestamps.NotStamped;
        return new IntakeItem<TRecord, TResult>(
            record, completion, completion.Generation, cost, arrival, (byte)lane, MayBeDropped: hasDeadline || cancellationToken.CanBeCanceled);
    }

    /// <summary>Tries the intake once: true when accepted; false when full; throws when closed.</summary>
    private bool Offer(Pipeline<TRecord, TResult> pipeline, in IntakeItem<TRecord, TResult> item)
    {
        if (pipeline.Intake.Line(item.Lane).HasWaiters)
        {
            return false; // others wait for room: queue behind them (see RoomLine)
        }

        switch (pipeline.Intake[item.Lane].TryEnqueue(item))
        {
            case EnqueueOutcome.Enqueued:
                return true;
            case EnqueueOutcome.Full:
                return false;
            default:
                item.Completion.Discard();
                ThrowHelper.Throw(NotAccepting(pipeline));
                return false;
        }
    }

    /// <summary>
    /// A record is in the intake: wakes the packing thread, ties the caller's token and starts the record's deadline
    /// (its own timeout, else the batcher's default), counted from its submit.
    /// </summary>
    private static ValueTask<TResult> Accepted(
        BatcherSettings<TRecord> settings,
        Pipeline<TRecord, TResult> pipeline,
        in IntakeItem<TRecord, TResult> item,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        var packer = pipeline.Packer;
        if (!packer.ResumerWillPack)
        {
            packer.Parker.Unpark(); // the enqueue's publish was a full fence, as Unpark and the read above require
        }
        item.Completion.Arm(cancellationToken);
        if ((timeout ?? settings.DefaultTimeout) is { } limit)
        {
            item.Completion.ArmDeadline(limit, item.Arrival, settings.TimeProvider);
        }

        return item.Completion.Task;
    }

    /// <summary>
    /// Waits in line until the intake takes the item (see <see cref="RoomLine{T}"/>), at most until the record's
    /// deadline; on failure the item's completion goes back to the pool.
    /// </summary>
    private async ValueTask<ValueTask<TResult>> WaitForRoomAsync(
        BatcherSettings<TRecord> settings,
        Pipeline<TRecord, TResult> pipeline,
        IntakeItem<TRecord, TResult> item,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        var time = settings.TimeProvider;
        var limit = timeout ?? settings.DefaultTimeout;
        var line = pipeline.Intake.Line(item.Lane);
        var waiter = line.Join(item, out bool admittedAny);
        if (admittedAny)
        {
            pipeline.Packer.Parker.Unpark(); // the enqueues under the line's lock were full fences, as Unpark requires
        }

        bool admitted;
        try
        {
            var admission = waiter.Admitted.Task;
            admitted = await (limit is { } span
                ? admission.WaitAsync(Remaining(span, item.Arrival, time), time, cancellationToken)
                : admission.WaitAsync(cancellationToken)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException && line.TryLeave(waiter))
        {
            // Left the line before being admitted: the record was never accepted.
            item.Completion.Discard();
            if (e is TimeoutException)
            {
                throw new TimeoutException(
                    $"The record waited for room in the queue past its timeout of {limit!.Value.TotalMilliseconds:0.###} ms.");
            }

            throw;
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            // Too late to leave: the record was admitted (its cancellation or deadline then completes it) or refused.
            admitted = waiter.Admitted.Task.Result;
        }

        if (!admitted)
        {
            item.Completion.Discard();
            throw NotAccepting(pipeline);
        }

        return Accepted(settings, pipeline, item, timeout, cancellationToken);
    }

    private static TimeSpan Remaining(TimeSpan limit, long since, TimeProvider time)
    {
        var left = limit - time.GetElapsedTime(since);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private Exception NotAccepting(Pipeline<TRecord, TResult>? pipeline)
    {
        if (_disposed)
        {
            return new ObjectDisposedException(GetType().Name, "The batcher was disposed; it accepts no more records.");
        }

        return new InvalidOperationException(pipeline is null
            ? "The batcher is not running; call StartAsync before submitting."
            : "The batcher is stopping; it accepts no more records.");
    }

    private void EndRun(Pipeline<TRecord, TResult> pipeline)
    {
        lock (_lifecycle)
        {
            if (_pipeline == pipeline)
            {
                _counters.OnRunEnded(pipeline.AcceptedCount);
                _lastRunWorkersExited = pipeline.Run.WorkersExited;
                _pipeline = null;
            }
        }
    }
}

using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// One consumer of the prefetch ring: takes sealed batches and runs the process function on them, one at a time.
/// </summary>
/// <remarks>
/// <para>Parking: the worker resets its signal, flags itself as parked (a full fence), tells the packing thread it is
/// idle, and re-checks the ring. Only the packing thread wakes workers, and only after winning the flag back with an
/// exchange; if the re-check found a batch but the packing thread won the flag first, the worker still awaits that
/// one wake-up, so every wake is consumed before the signal is reset again.</para>
/// <para>Aborted stops: the batch in hand is published in <c>_current</c> with an exchange before the abort flag is
/// read; the stopping thread sets the flag before it exchanges <c>_current</c> out. Whoever takes the batch out of
/// <c>_current</c> owns it: the stopping thread fails its records and drops it, the worker recycles it.</para>
/// </remarks>
internal sealed class Worker<TRecord, TResult>
{
    private readonly Pipeline<TRecord, TResult> _pipeline;
    private readonly WorkerSignal _signal = new();
    private Batch<TRecord, TResult>? _current;
    private int _parked;

    // The outcome of the batch in hand, summed over its calls (several when failure isolation retries it).
    private int _completed;
    private int _failed;
    private Exception? _firstError;

    /// <summary>What one call of the process function gave: its results (list-returning shape), or what it threw.</summary>
    private readonly record struct CallResult(IReadOnlyList<TResult>? Results, Exception? Error);

    /// <summary>Creates a worker of <paramref name="pipeline"/>.</summary>
    public Worker(Pipeline<TRecord, TResult> pipeline) => _pipeline = pipeline;

    /// <summary>True while the worker waits for a batch.</summary>
    public bool IsIdle => Volatile.Read(ref _parked) != 0;

    /// <summary>Starts the worker's loop on the thread pool.</summary>
    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Wakes the worker if it is parked (the packing thread only). Returns whether it was.</summary>
    public bool TryWake()
    {
        if (Volatile.Read(ref _parked) != 0 && Interlocked.Exchange(ref _parked, 0) != 0)
        {
            _signal.Set();
            return true;
        }

        return false;
    }

    /// <summary>Takes the batch in hand away from the worker (an aborted stop); null when it holds none.</summary>
    public Batch<TRecord, TResult>? TakeCurrentBatch() => Interlocked.Exchange(ref _current, null);

    private async Task RunAsync()
    {
        var prefetch = _pipeline.Prefetch;
        var parker = _pipeline.Packer.Parker;
        var counters = _pipeline.Counters;
        var time = _pipeline.Settings.TimeProvider;
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
                        Interlocked.Exchange(ref _parked, 1);
                        parker.Unpark(); // an idle worker lets the open batch go out eagerly
                        bool found = prefetch.TryDequeue(out batch);
                        if (!found && !prefetch.IsCompleted)
                        {
                            await _signal.WaitAsync();
                            continue;
                        }

                        if (Interlocked.Exchange(ref _parked, 0) == 0)
                        {
                            await _signal.WaitAsync(); // the packing thread already claimed our wake-up: consume it
                        }

                        if (!found)
                        {
                            continue;
                        }
                    }
                }

                parker.Unpark(); // a prefetch slot is free: a full batch may go out
                if (!BeginBatch(batch))
                {
                    continue;
                }

                long started = time.GetTimestamp();
                counters.Busy.Enter(counters.MicrosecondsAt(started));
                // Called inline, not through CallAsync: the steady state stays free of any state machine but this
                // loop's, and the process function runs directly in the worker's own context.
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
        }
        finally
        {
            _pipeline.OnParticipantExited();
        }
    }

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
    private bool BeginBatch(Batch<TRecord, TResult> batch)
    {
        Interlocked.Exchange(ref _current, batch); // full fence before the abort flag is read (see the remarks)
        if (_pipeline.IsAborting)
        {
            if (TakeCurrentBatch() == batch)
            {
                _pipeline.Counters.AddCancelled(batch.FailAll(_pipeline.AbortError));
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

        _pipeline.Counters.AddBatch(batch.Count, batch.LiveCost, batch.Reason);
        return true;
    }

    /// <summary>
    /// Gives the window's records the outcome of one call. False (nothing settled) when the call threw, failure
    /// isolation is on, and more than one record is left without an outcome: they are to be retried in halves.
    /// </summary>
    private bool Settle(Batch<TRecord, TResult> batch, IReadOnlyList<TResult>? results, Exception? error, bool isolating)
    {
        if (_pipeline.ProcessEach is not null)
        {
            int byCaller = batch.TakeCompletedByCaller();
            _completed += byCaller;
            _failed += batch.TakeFailedByCaller();
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

    private void EndBatch(Batch<TRecord, TResult> batch, long started, long ended)
    {
        var counters = _pipeline.Counters;
        counters.AddCompleted(_completed);
        counters.AddFailed(_failed);
        var error = _firstError;
        _completed = 0;
        _failed = 0;
        _firstError = null;
        Report(batch, error, started, ended);
        if (TakeCurrentBatch() == batch)
        {
            _pipeline.ReturnBatch(batch);
        }
    }
}

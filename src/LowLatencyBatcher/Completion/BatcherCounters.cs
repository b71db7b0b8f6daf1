namespace LowLatencyBatcher.Completion;

/// <summary>
/// The running totals behind <see cref="BatchStats"/>. Workers count into tallies of their own (<see cref="WorkerTally"/>),
/// once per batch and without an atomic operation; the shared counters here take what happens outside a worker
/// (cancellations, deadlines, refusals, per-record outcomes given by the process function). The submitted count is not
/// kept here at all (it is the intake's tail plus the records run alone), so a submit touches no shared counter.
/// </summary>
internal sealed class BatcherCounters
{
    private readonly TimeProvider _time;
    private readonly long _origin;
    private long _completed;
    private long _failed;
    private long _cancelled;
    private long _timedOut;
    private long _rejected;
    private long _submittedInEndedRuns;
    private long _runStartMicroseconds = -1;
    private WorkerTally[] _tallies = []; // every worker's, over every run; replaced whole when a run adds its own
    private long _endedRunsMicroseconds;

    /// <summary>Creates counters that read time from <paramref name="time"/>.</summary>
    public BatcherCounters(TimeProvider time)
    {
        _time = time;
        _origin = time.GetTimestamp();
    }

    /// <summary>Wall time during which a worker was inside the process function.</summary>
    public BusyTracker Busy { get; } = new();

    /// <summary>Microseconds since this batcher was created, on its <see cref="TimeProvider"/>.</summary>
    public long NowMicroseconds => MicrosecondsAt(_time.GetTimestamp());

    /// <summary>A new worker's tally, summed into every later snapshot (lifecycle lock held: a run is being built).</summary>
    public WorkerTally NewWorkerTally()
    {
        var tally = new WorkerTally();
        Volatile.Write(ref _tallies, [.. _tallies, tally]); // release: a snapshot sees the whole new array (created under the run's start, one writer)
        return tally;
    }

    /// <summary>Counts records that completed (value, exception or cancellation).</summary>
    public void AddCompleted(long records) => Interlocked.Add(ref _completed, records);

    /// <summary>Counts records failed with their batch's exception (they were counted as completed too).</summary>
    public void AddFailed(long records) => Interlocked.Add(ref _failed, records);

    /// <summary>Counts records cancelled by their caller or by an aborted stop, and completes them.</summary>
    public void AddCancelled(long records)
    {
        Interlocked.Add(ref _cancelled, records); // atomic: cancellations come from any thread
        AddCompleted(records);
    }

    /// <summary>Counts a submit refused because the queue was full (<see cref="QueueFullMode.Reject"/>).</summary>
    public void AddRejected() => Interlocked.Increment(ref _rejected);

    /// <summary>Counts records whose deadline passed before a worker took them, and completes them.</summary>
    public void AddTimedOut(long records)
    {
        Interlocked.Add(ref _timedOut, records); // atomic: timers fire on any thread
        AddCompleted(records);
    }

    /// <summary>Microseconds since this batcher was created, at <paramref name="timestamp"/> of its clock.</summary>
    public long MicrosecondsAt(long timestamp) =>
        _time.GetElapsedTime(_origin, timestamp).Ticks / TimeSpan.TicksPerMicrosecond;

    /// <summary>A run starts (lifecycle lock held).</summary>
    public void OnRunStarted() => Volatile.Write(ref _runStartMicroseconds, NowMicroseconds);

    /// <summary>A run ended after accepting <paramref name="submitted"/> records (lifecycle lock held).</summary>
    public void OnRunEnded(long submitted)
    {
        long start = Volatile.Read(ref _runStartMicroseconds);
        if (start >= 0)
        {
            Interlocked.Add(ref _endedRunsMicroseconds, Math.Max(0, NowMicroseconds - start));
        }

        Volatile.Write(ref _runStartMicroseconds, -1);
        Interlocked.Add(ref _submittedInEndedRuns, submitted);
    }

    /// <summary>
    /// Takes a snapshot; the current run's figures come from its live intake. Every outcome counter is read before the
    /// submitted count (a record is counted as submitted before it can complete), so within one snapshot no more
    /// records have completed than were submitted.
    /// </summary>
    public BatchStats Snapshot(Func<long> submittedInCurrentRun, long queueDepth)
    {
        long now = NowMicroseconds;
        long start = Volatile.Read(ref _runStartMicroseconds);
        long wall = Volatile.Read(ref _endedRunsMicroseconds) + (start >= 0 ? Math.Max(0, now - start) : 0);
        long busy = Math.Min(Busy.BusyMicroseconds(now), wall);
        var byReason = new long[Enum.GetValues<DispatchReason>().Length];
        long batches = 0, batchCost = 0, batchRecords = 0;
        long completed = Volatile.Read(ref _completed);
        long failed = Volatile.Read(ref _failed);
        foreach (var tally in Volatile.Read(ref _tallies))
        {
            batches += tally.Batches;
            batchCost += tally.Cost;
            batchRecords += tally.Records;
            completed += tally.Completed;
            failed += tally.Failed;
            for (int reason = 0; reason < byReason.Length; reason++)
            {
                byReason[reason] += tally.BatchesFor((DispatchReason)reason);
            }
        }

        return new BatchStats
        {
            TotalCompleted = completed,
            TotalSubmitted = Volatile.Read(ref _submittedInEndedRuns) + submittedInCurrentRun(),
            TotalFailed = failed,
            TotalCancelled = Volatile.Read(ref _cancelled),
            QueueDepth = queueDepth,
            TotalTimedOut = Volatile.Read(ref _timedOut),
            TotalRejected = Volatile.Read(ref _rejected),
            FullBatches = byReason[(int)DispatchReason.Full],
            BudgetBatches = byReason[(int)DispatchReason.Budget],
            SizeBatches = byReason[(int)DispatchReason.Size],
            EagerBatches = byReason[(int)DispatchReason.Eager],
            TimeoutBatches = byReason[(int)DispatchReason.Timeout],
            ShutdownBatches = byReason[(int)DispatchReason.Shutdown],
            TotalBatches = batches,
            TotalBatchCost = batchCost,
            AvgBatchSize = batches == 0 ? 0 : (double)batchRecords / batches,
            AvgBatchCost = batches == 0 ? 0 : (double)batchCost / batches,
            BusyTime = TimeSpan.FromMicroseconds(busy),
            IdleTime = TimeSpan.FromMicroseconds(wall - busy),
        };
    }
}


namespace LowLatencyBatcher.Completion;

/// <summary>
/// One worker's share of the statistics. Only that worker writes it (its own loop, or the submitter that borrowed
/// it, never both at once), so each count is a plain read and a release write — no atomic operation per batch. Readers
/// sum every worker's tally (see <see cref="BatcherCounters.Snapshot"/>); each count only grows.
/// </summary>
internal sealed class WorkerTally
{
    private readonly long[] _byReason = new long[Enum.GetValues<DispatchReason>().Length];
    private long _completed;
    private long _failed;
    private long _batches;
    private long _records;
    private long _cost;

    /// <summary>Records this worker completed (value or exception).</summary>
    public long Completed => Volatile.Read(ref _completed);

    /// <summary>Records this worker failed with their batch's exception (counted as completed too).</summary>
    public long Failed => Volatile.Read(ref _failed);

    /// <summary>Batches this worker handed to the process function.</summary>
    public long Batches => Volatile.Read(ref _batches);

    /// <summary>Records in those batches.</summary>
    public long Records => Volatile.Read(ref _records);

    /// <summary>The cost of those batches.</summary>
    public long Cost => Volatile.Read(ref _cost);

    /// <summary>Batches this worker ran that were sent for <paramref name="reason"/>.</summary>
    public long BatchesFor(DispatchReason reason) => Volatile.Read(ref _byReason[(int)reason]);

    /// <summary>Counts one batch handed to the process function (the owning worker only).</summary>
    public void AddBatch(int records, long cost, DispatchReason reason)
    {
        // Plain read, release write: a single writer, and a reader never sees a count go back.
        Volatile.Write(ref _byReason[(int)reason], _byReason[(int)reason] + 1);
        Volatile.Write(ref _records, _records + records);
        Volatile.Write(ref _cost, _cost + cost);
        Volatile.Write(ref _batches, _batches + 1);
    }

    /// <summary>Counts a batch's outcome (the owning worker only), before its callers see it.</summary>
    public void AddOutcome(int completed, int failed)
    {
        if (failed != 0)
        {
            Volatile.Write(ref _failed, _failed + failed);
        }

        Volatile.Write(ref _completed, _completed + completed);
    }
}

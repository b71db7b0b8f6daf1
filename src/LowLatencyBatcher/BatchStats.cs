namespace LowLatencyBatcher;

/// <summary>A snapshot of a batcher's statistics, accumulated over all of its runs.</summary>
public readonly record struct BatchStats
{
    /// <summary>Records accepted by a submit.</summary>
    public long TotalSubmitted { get; init; }

    /// <summary>Records whose task finished: with a value, an exception or a cancellation.</summary>
    public long TotalCompleted { get; init; }

    /// <summary>Completed records that got their batch's exception (the process function threw or returned a wrong count).</summary>
    public long TotalFailed { get; init; }

    /// <summary>Completed records that were cancelled: by their caller's token, or by a stop whose token was cancelled.</summary>
    public long TotalCancelled { get; init; }

    /// <summary>Completed records whose timeout passed before a worker took them (they got <see cref="TimeoutException"/>).</summary>
    public long TotalTimedOut { get; init; }

    /// <summary>Submits refused because the queue was full (<see cref="QueueFullMode.Reject"/>); not counted as submitted.</summary>
    public long TotalRejected { get; init; }

    /// <summary>Batches sent because their cost reached the target (or a lone record exceeded it).</summary>
    public long FullBatches { get; init; }

    /// <summary>Batches sent because the next record would have pushed them over the target.</summary>
    public long BudgetBatches { get; init; }

    /// <summary>Batches sent because they held <c>MaxBatchSize</c> records.</summary>
    public long SizeBatches { get; init; }

    /// <summary>Batches sent early to an idle worker (at least <c>MinBatchSize</c> records).</summary>
    public long EagerBatches { get; init; }

    /// <summary>Batches sent because <c>BatchTimeout</c> passed since their first record.</summary>
    public long TimeoutBatches { get; init; }

    /// <summary>Batches flushed by a stop.</summary>
    public long ShutdownBatches { get; init; }

    /// <summary>Records accepted but not yet taken by the packing thread, at the time of the snapshot.</summary>
    public long QueueDepth { get; init; }

    /// <summary>Batches handed to the process function.</summary>
    public long TotalBatches { get; init; }

    /// <summary>The summed cost of the records of all batches handed to the process function.</summary>
    public long TotalBatchCost { get; init; }

    /// <summary>Records per batch, on average (0 before the first batch).</summary>
    public double AvgBatchSize { get; init; }

    /// <summary>Cost per batch, on average (0 before the first batch).</summary>
    public double AvgBatchCost { get; init; }

    /// <summary>Wall time during which at least one worker was inside the process function.</summary>
    public TimeSpan BusyTime { get; init; }

    /// <summary>Wall time while running during which no worker was inside the process function.</summary>
    public TimeSpan IdleTime { get; init; }

    /// <summary><see cref="BusyTime"/> / (<see cref="BusyTime"/> + <see cref="IdleTime"/>), in [0, 1]; 0 when no time has passed.</summary>
    public double Utilization
    {
        get
        {
            double total = BusyTime.Ticks + IdleTime.Ticks;
            return total <= 0 ? 0 : BusyTime.Ticks / total;
        }
    }
}

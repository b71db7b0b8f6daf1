namespace LowLatencyBatcher;

/// <summary>
/// Receives a report after every batch the process function ran (for metrics and tracing). Called on the worker
/// that ran the batch, after its records were completed: keep it short, and do not block. Exceptions it throws are
/// caught and ignored, so an observer can never fail records or stop a worker.
/// </summary>
public interface IBatchObserver
{
    /// <summary>One batch was processed.</summary>
    /// <param name="report">What the batch held and how it went; its spans are valid only during the call.</param>
    void OnBatchCompleted(in BatchReport report);
}

/// <summary>What one processed batch held and how it went.</summary>
public readonly ref struct BatchReport
{
    /// <summary>Records passed to the process function.</summary>
    public int Records { get; init; }

    /// <summary>Their summed cost.</summary>
    public long Cost { get; init; }

    /// <summary>Why the batch was sent.</summary>
    public DispatchReason Reason { get; init; }

    /// <summary>Time spent inside the process function.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The exception every record of the batch got, or null when the batch succeeded.</summary>
    public Exception? Error { get; init; }

    /// <summary>
    /// The submit timestamp of each record (on the batcher's <see cref="TimeProvider"/>), in batch order; with
    /// <see cref="CompletedTimestamp"/> it gives each record's submit-to-result latency.
    /// </summary>
    public ReadOnlySpan<long> SubmitTimestamps { get; init; }

    /// <summary>The timestamp at which the records were completed.</summary>
    public long CompletedTimestamp { get; init; }

    /// <summary>The submit-to-result latency of record <paramref name="index"/> of the batch.</summary>
    public TimeSpan LatencyOf(int index, TimeProvider timeProvider) =>
        timeProvider.GetElapsedTime(SubmitTimestamps[index], CompletedTimestamp);
}

namespace LowLatencyBatcher.Nats;

/// <summary>A snapshot of what a worker has done since it started.</summary>
public readonly record struct WorkerCounts
{
    /// <summary>Online requests received.</summary>
    public long OnlineRequests { get; init; }

    /// <summary>Online requests answered "busy".</summary>
    public long Busy { get; init; }

    /// <summary>Durable records received (every delivery counts).</summary>
    public long DurableRecords { get; init; }

    /// <summary>Durable records received again after an earlier delivery (a worker died or was too slow).</summary>
    public long Redelivered { get; init; }

    /// <summary>Durable records put back because the batcher had no room at that moment.</summary>
    public long PutBack { get; init; }

    /// <summary>Results published (online replies and durable results), successes and errors.</summary>
    public long Results { get; init; }

    /// <summary>Records whose processing failed (their error was sent back).</summary>
    public long Failed { get; init; }

    /// <summary>Malformed messages (answered with an error or dead-lettered).</summary>
    public long Malformed { get; init; }

    /// <summary>Messages dead-lettered.</summary>
    public long DeadLettered { get; init; }
}

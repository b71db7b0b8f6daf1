namespace LowLatencyBatcher;

/// <summary>Why the packing thread sealed a batch and handed it to the workers (see docs/design.md).</summary>
public enum DispatchReason
{
    /// <summary>Not ready: the batch keeps filling.</summary>
    None,

    /// <summary>Its cost reached the target (or its lone record's cost exceeds it).</summary>
    Full,

    /// <summary>The next record would have pushed its cost over the target.</summary>
    Budget,

    /// <summary>It holds <c>MaxBatchSize</c> records.</summary>
    Size,

    /// <summary>It holds at least <c>MinBatchSize</c> records while a worker is idle and no sealed batch waits.</summary>
    Eager,

    /// <summary><c>BatchTimeout</c> passed since its first record.</summary>
    Timeout,

    /// <summary>A stop flushes it at once.</summary>
    Shutdown,
}

namespace LowLatencyBatcher;

/// <summary>Per-record settings of a submit; every one is optional.</summary>
public readonly record struct SubmitOptions
{
    /// <summary>The record's token count; wins over <see cref="EstimatedCost"/> and every estimator.</summary>
    public int? EstimatedTokens { get; init; }

    /// <summary>The record's cost; wins over every estimator.</summary>
    public int? EstimatedCost { get; init; }

    /// <summary>The record's priority lane: 0 (the default) is the most urgent; below the batcher's <c>PriorityLanes</c>.</summary>
    public int Priority { get; init; }

    /// <summary>
    /// How long the record may wait to be handed to a worker; past that it completes with
    /// <see cref="TimeoutException"/> and never reaches the process function. Null takes the batcher's
    /// <c>DefaultTimeout</c>. A submit with a timeout allocates a timer.
    /// </summary>
    public TimeSpan? Timeout { get; init; }
}

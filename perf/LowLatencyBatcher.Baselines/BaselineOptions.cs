namespace LowLatencyBatcher.Baselines;

/// <summary>The batching knobs the baselines share with the library (same meaning, same defaults).</summary>
public sealed record BaselineOptions
{
    /// <summary>The most records in one batch.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>Below this many records a batch waits for more, or for <see cref="BatchTimeout"/>.</summary>
    public int MinBatchSize { get; init; } = 1;

    /// <summary>The cost budget of one batch (the channel baseline keeps it; a BatchBlock cannot).</summary>
    public int TargetBatchCost { get; init; } = 32_000;

    /// <summary>How long a batch may wait, from its first record, before it goes whatever it holds.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How many records may wait before submits wait for room.</summary>
    public int MaxQueueSize { get; init; } = 5_000;
}

/// <summary>A process function over plain lists, as a user of the baselines would pass it.</summary>
public delegate ValueTask<IReadOnlyList<TResult>> BatchFn<TRecord, TResult>(
    IReadOnlyList<TRecord> batch, CancellationToken cancellationToken);

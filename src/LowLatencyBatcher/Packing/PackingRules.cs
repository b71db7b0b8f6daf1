namespace LowLatencyBatcher.Packing;

/// <summary>
/// Every rule that decides what goes into a batch and when the batch goes out, in one place. The packing thread
/// asks these questions and does what they answer; the tests in <c>PackingRulesTests</c> are named after them.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item><b>Hard budget.</b> A record fits the open batch when the batch is empty or the record keeps the batch's
/// cost within the target. A record that does not fit seals the batch (<see cref="DispatchReason.Budget"/>) and
/// starts the next one. So a batch never exceeds the target, except a lone record costlier than the whole target,
/// which is sealed at once in a batch of its own: never rejected, never stuck.</item>
/// <item><b>Full.</b> A batch whose cost reached the target (<see cref="DispatchReason.Full"/>) or that holds
/// <c>MaxBatchSize</c> records (<see cref="DispatchReason.Size"/>) is sealed.</item>
/// <item><b>Early dispatch</b> of a batch that is not full, checked in this order: a stop flushes it at once
/// (<see cref="DispatchReason.Shutdown"/>); <c>BatchTimeout</c> after its first record was submitted it goes whatever it holds
/// (<see cref="DispatchReason.Timeout"/>); it goes eagerly when it holds at least <c>MinBatchSize</c> records, a worker
/// is idle and no sealed batch waits for one (<see cref="DispatchReason.Eager"/>).</item>
/// <item><b>Prefetch full.</b> A sealed batch waits for room in the prefetch ring; meanwhile a batch that is ready but
/// not full keeps absorbing records up to its limits, so the batch a worker gets next is as full as it can be.</item>
/// <item><b>Order.</b> Records enter batches in the order they were accepted; none is ever put back. A record
/// cancelled while queued is dropped before it takes any room.</item>
/// </list>
/// </remarks>
internal sealed class PackingRules
{
    private readonly long _timeoutTicks;

    /// <summary>Creates the rules for these limits; timestamps are in <paramref name="timestampFrequency"/> ticks per second.</summary>
    public PackingRules(int targetCost, int maxBatchSize, int minBatchSize, TimeSpan batchTimeout, long timestampFrequency)
    {
        TargetCost = targetCost;
        MaxBatchSize = maxBatchSize;
        MinBatchSize = minBatchSize;
        // Integer arithmetic, rounded up: a timeout is never shorter than asked (floating point would make 50 ms
        // one tick longer or shorter depending on the frequency).
        Int128 scaled = (Int128)batchTimeout.Ticks * timestampFrequency;
        _timeoutTicks = Math.Max(1, (long)((scaled + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond));
    }

    /// <summary>The cost budget of one batch.</summary>
    public int TargetCost { get; }

    /// <summary>The most records in one batch.</summary>
    public int MaxBatchSize { get; }

    /// <summary>The fewest records for an eager dispatch.</summary>
    public int MinBatchSize { get; }

    /// <summary>Rule 1: whether a record of <paramref name="cost"/> may join a batch holding <paramref name="count"/> records costing <paramref name="batchCost"/>.</summary>
    public bool Fits(int count, long batchCost, int cost) => count == 0 || batchCost + cost <= TargetCost;

    /// <summary>Rule 2: why a batch holding <paramref name="count"/> records costing <paramref name="batchCost"/> is full, or <see cref="DispatchReason.None"/>.</summary>
    public DispatchReason FullReason(int count, long batchCost) =>
        batchCost >= TargetCost ? DispatchReason.Full
        : count >= MaxBatchSize ? DispatchReason.Size
        : DispatchReason.None;

    /// <summary>Rule 3: why a batch that is not full should go out now, or <see cref="DispatchReason.None"/>.</summary>
    /// <param name="count">Records in the batch (at least one).</param>
    /// <param name="firstArrival">Timestamp at which its first record was submitted.</param>
    /// <param name="now">The current timestamp.</param>
    /// <param name="stopping">Whether a stop is flushing the batcher (everything accepted has been drained).</param>
    /// <param name="workerIdle">Whether a worker waits for a batch.</param>
    /// <param name="prefetchEmpty">Whether no sealed batch waits in the prefetch ring.</param>
    public DispatchReason EarlyReason(int count, long firstArrival, long now, bool stopping, bool workerIdle, bool prefetchEmpty) =>
        stopping ? DispatchReason.Shutdown
        : now - firstArrival >= _timeoutTicks ? DispatchReason.Timeout
        : count >= MinBatchSize && workerIdle && prefetchEmpty ? DispatchReason.Eager
        : DispatchReason.None;

    /// <summary>Rule 3: the timestamp at which a batch whose first record was submitted at <paramref name="firstArrival"/> times out.</summary>
    public long Deadline(long firstArrival) => firstArrival + _timeoutTicks;
}

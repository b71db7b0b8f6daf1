using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Packing.Rules;

/// <summary>
/// The rules that decide what goes into a batch and when the batch goes out (rules 1 to 4): budget, size, timeouts,
/// eagerness. They may change on a running batcher: one instance holds one configuration, a reconfiguration makes a
/// new one, and it applies from the next batch (a batch keeps the rules it was opened with). The order in which
/// records come to the batches (rules 5 and 6: lanes, ageing, buckets) is the engine's shape, fixed at creation:
/// <see cref="OrderRules"/>. The packing loop asks both and does what they answer; the tests in
/// <c>PackingRulesTests</c> are named after the rules.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item><b>Hard budget.</b> A record fits the open batch when the batch is empty or the batch's cost with the
/// record stays within the target. The cost follows the <see cref="CostModel"/>: the sum of the records' costs, or
/// the costliest record's cost times the count (what a padded tensor holds), plus a fixed per-batch cost; either is
/// kept up to date in O(1) per record. A record that does not fit seals the batch (<see cref="DispatchReason.Budget"/>)
/// and starts the next one. So a batch never exceeds the target, except a lone record costlier than the whole target,
/// which is sealed at once in a batch of its own: never rejected, never stuck.</item>
/// <item><b>Full.</b> A batch whose cost reached the target (<see cref="DispatchReason.Full"/>) or that holds
/// <c>MaxBatchSize</c> records (<see cref="DispatchReason.Size"/>) is sealed.</item>
/// <item><b>Early dispatch</b> of a batch that is not full, checked in this order: a stop flushes it at once
/// (<see cref="DispatchReason.Shutdown"/>); <c>BatchTimeout</c> after its first record was submitted it goes whatever
/// it holds (<see cref="DispatchReason.Timeout"/>); it goes eagerly when it holds at least <c>MinBatchSize</c> records,
/// a worker is idle and no sealed batch waits for one (<see cref="DispatchReason.Eager"/>) — except that while the
/// callers of a finished batch are being resumed (their next records are on their way) it waits for them, at most
/// <see cref="ResumeWait"/> from its first record's submit. A worker is not idle until it has resumed its last batch's
/// callers.</item>
/// <item><b>Prefetch full.</b> A sealed batch waits for room in the prefetch ring; meanwhile a batch that is ready but
/// not full keeps absorbing records up to its limits, so the batch a worker gets next is as full as it can be. With
/// priority lanes, only urgent records (lane 0, or aged) join open batches while every prefetch slot is full: an urgent
/// record arriving then is not stuck behind a batch already packed with bulk records.</item>
/// <item><b>Order</b> and <b>Buckets</b> (rules 5 and 6): see <see cref="OrderRules"/>.</item>
/// </list>
/// </remarks>
internal sealed class BatchRules
{
    private readonly long _timeoutTicks;
    private readonly long _resumeWaitTicks;

    /// <summary>Creates the rules for these limits; timestamps are in <paramref name="timestampFrequency"/> ticks per second.</summary>
    public BatchRules(
        int targetCost,
        int maxBatchSize,
        int minBatchSize,
        TimeSpan batchTimeout,
        long timestampFrequency,
        CostModel costModel = CostModel.Sum,
        int perBatchCost = 0)
    {
        TargetCost = targetCost;
        MaxBatchSize = maxBatchSize;
        MinBatchSize = minBatchSize;
        BatchTimeout = batchTimeout;
        CostModel = costModel;
        PerBatchCost = perBatchCost;

        _timeoutTicks = Timestamps.ToTicks(batchTimeout, timestampFrequency);
        _resumeWaitTicks = Math.Min(_timeoutTicks, Timestamps.ToTicks(ResumeWait, timestampFrequency));
    }

    /// <summary>The cost budget of one batch.</summary>
    public int TargetCost { get; }

    /// <summary>The most records in one batch.</summary>
    public int MaxBatchSize { get; }

    /// <summary>The fewest records for an eager dispatch.</summary>
    public int MinBatchSize { get; }

    /// <summary>How long a batch may wait from its first record's submit.</summary>
    public TimeSpan BatchTimeout { get; }

    /// <summary>How a batch's cost follows from its records' costs.</summary>
    public CostModel CostModel { get; }

    /// <summary>A fixed cost added to every non-empty batch.</summary>
    public int PerBatchCost { get; }

    /// <summary>Rule 1: the cost of a batch of <paramref name="count"/> records whose costs sum to <paramref name="sumCost"/> and peak at <paramref name="maxCost"/>.</summary>
    public long CostOf(int count, long sumCost, int maxCost) =>
        count == 0 ? 0
        : (CostModel == CostModel.Padded ? (long)maxCost * count : sumCost) + PerBatchCost;

    /// <summary>Rule 1: whether a record of <paramref name="cost"/> may join a batch of <paramref name="count"/> records (costs summing to <paramref name="sumCost"/>, peaking at <paramref name="maxCost"/>).</summary>
    public bool Fits(int count, long sumCost, int maxCost, int cost) =>
        count == 0 || CostOf(count + 1, sumCost + cost, Math.Max(maxCost, cost)) <= TargetCost;

    /// <summary>Rule 2: why such a batch is full, or <see cref="DispatchReason.None"/>.</summary>
    public DispatchReason FullReason(int count, long sumCost, int maxCost) =>
        CostOf(count, sumCost, maxCost) >= TargetCost ? DispatchReason.Full
        : count >= MaxBatchSize ? DispatchReason.Size
        : DispatchReason.None;

    /// <summary>Rule 3: why a batch that is not full should go out now, or <see cref="DispatchReason.None"/>.</summary>
    /// <param name="count">Records in the batch (at least one).</param>
    /// <param name="firstArrival">Timestamp at which its first record was submitted.</param>
    /// <param name="now">The current timestamp.</param>
    /// <param name="stopping">Whether a stop is flushing the batcher (everything accepted has been drained).</param>
    /// <param name="workerIdle">Whether a worker waits for a batch.</param>
    /// <param name="prefetchEmpty">Whether no sealed batch waits in the prefetch ring.</param>
    /// <param name="callersResuming">
    /// Whether callers of a finished batch are being resumed (their next records are on their way, and whoever resumes
    /// them packs right after).
    /// </param>
    public DispatchReason EarlyReason(
        int count, long firstArrival, long now, bool stopping, bool workerIdle, bool prefetchEmpty, bool callersResuming = false) =>
        stopping ? DispatchReason.Shutdown
        : now - firstArrival >= _timeoutTicks ? DispatchReason.Timeout
        : count >= MinBatchSize && workerIdle && prefetchEmpty
            && (!callersResuming || now - firstArrival >= _resumeWaitTicks) ? DispatchReason.Eager
        : DispatchReason.None;

    /// <summary>Rule 3: the longest an eager batch waits for callers being resumed, from its first record's submit.</summary>
    public static readonly TimeSpan ResumeWait = TimeSpan.FromMicroseconds(200);

    /// <summary>Rule 3: the timestamp from which a batch whose first record was submitted at <paramref name="firstArrival"/> no longer waits for callers being resumed.</summary>
    public long ResumeWaitEnds(long firstArrival) => firstArrival + _resumeWaitTicks;

    /// <summary>Rule 3: the timestamp at which a batch whose first record was submitted at <paramref name="firstArrival"/> times out.</summary>
    public long Deadline(long firstArrival) => firstArrival + _timeoutTicks;
}

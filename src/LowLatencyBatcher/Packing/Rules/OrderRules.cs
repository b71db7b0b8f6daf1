using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Packing.Rules;

/// <summary>
/// The rules that decide the order in which records come to the batches (rules 5 and 6): priority lanes with ageing,
/// and cost buckets. They are the engine's shape, fixed when the batcher is created (the lanes and the open batches
/// per bucket are built from them). What goes into a batch and when it goes out: <see cref="BatchRules"/>.
/// </summary>
/// <remarks>
/// <list type="number">
/// <item value="5"><b>Order.</b> Records enter batches in the order they were accepted; none is ever put back. A record
/// cancelled while queued is dropped before it takes any room. With priority lanes, the packing thread takes the next
/// record from the most urgent lane that has one, except that a record that has waited <c>PriorityAging</c> goes
/// first whatever its lane (the oldest such), so nothing starves: order is FIFO within a lane. With cost buckets,
/// each bucket has its own open batch, with its own timeout: order is FIFO within a bucket.</item>
/// <item value="6"><b>Buckets.</b> A record's bucket is the first whose upper bound is at least its cost (the last
/// bucket takes the rest). Full batches go out oldest first; an early dispatch picks the oldest ready bucket.</item>
/// </list>
/// </remarks>
internal sealed class OrderRules
{
    /// <summary>The arrival given by <see cref="PickLane"/>'s caller for a lane with no record waiting.</summary>
    public const long NoRecord = long.MaxValue;

    private readonly long _agingTicks;
    private readonly int[] _bucketBounds;

    /// <summary>
    /// Creates the rules for these lanes and buckets; timestamps are in <paramref name="timestampFrequency"/> ticks per
    /// second. Without <paramref name="priorityAging"/> no record counts as aged.
    /// </summary>
    public OrderRules(long timestampFrequency, TimeSpan? priorityAging = null, int[]? bucketBounds = null)
    {
        _agingTicks = priorityAging is { } aging ? Timestamps.ToTicks(aging, timestampFrequency) : long.MaxValue;
        _bucketBounds = bucketBounds ?? [];
    }

    /// <summary>The number of cost buckets (1 without bounds).</summary>
    public int BucketCount => _bucketBounds.Length + 1;

    /// <summary>Rule 6: the bucket of a record of <paramref name="cost"/>.</summary>
    public int BucketOf(int cost)
    {
        int bucket = 0;
        while (bucket < _bucketBounds.Length && cost > _bucketBounds[bucket])
        {
            bucket++;
        }

        return bucket;
    }

    /// <summary>
    /// Rule 5: the lane whose waiting record goes next, or -1 when none waits. <paramref name="headArrivals"/> holds,
    /// per lane (0 the most urgent), the submit timestamp of the record at its head, or <see cref="NoRecord"/>.
    /// </summary>
    public int PickLane(ReadOnlySpan<long> headArrivals, long now)
    {
        int aged = -1;
        int urgent = -1;
        for (int lane = 0; lane < headArrivals.Length; lane++)
        {
            long arrival = headArrivals[lane];
            if (arrival == NoRecord)
            {
                continue;
            }

            if (urgent < 0)
            {
                urgent = lane;
            }

            if (now - arrival >= _agingTicks && (aged < 0 || arrival < headArrivals[aged]))
            {
                aged = lane;
            }
        }

        return aged >= 0 ? aged : urgent;
    }

    /// <summary>Rules 4 and 5: whether a record of <paramref name="lane"/> submitted at <paramref name="arrival"/> counts as urgent (lane 0, or aged).</summary>
    public bool IsUrgent(int lane, long arrival, long now) => lane == 0 || now - arrival >= _agingTicks;
}

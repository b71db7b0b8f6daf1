namespace LowLatencyBatcher.Intake;

/// <summary>
/// The intake of one run: one <see cref="IntakeRing{T}"/> per priority lane (just one without priorities). Each lane
/// is bounded by <c>MaxQueueSize</c> on its own, so a flood of bulk records never makes an urgent submit wait for room.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class IntakeLanes<T>
{
    private readonly IntakeRing<T>[] _lanes;

    /// <summary>Creates <paramref name="lanes"/> rings of <paramref name="limit"/> items each.</summary>
    public IntakeLanes(int lanes, int limit)
    {
        _lanes = new IntakeRing<T>[lanes];
        for (int i = 0; i < lanes; i++)
        {
            _lanes[i] = new IntakeRing<T>(limit);
        }
    }

    /// <summary>The number of lanes.</summary>
    public int Count => _lanes.Length;

    /// <summary>The ring of lane <paramref name="lane"/> (0 is the most urgent).</summary>
    public IntakeRing<T> this[int lane] => _lanes[lane];

    /// <summary>True once <see cref="Close"/> has closed every lane.</summary>
    public bool IsClosed => _lanes[^1].IsClosed;

    /// <summary>Items ever accepted, over all lanes.</summary>
    public long AcceptedCount => Total(static lane => lane.AcceptedCount);

    /// <summary>Items accepted but not yet drained, over all lanes; a snapshot.</summary>
    public long WaitingCount => Total(static lane => lane.WaitingCount);

    /// <summary>Whether every lane was closed and drained (the consumer only).</summary>
    public bool IsDrainedAfterClose
    {
        get
        {
            foreach (var lane in _lanes)
            {
                if (!lane.IsDrainedAfterClose)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Whether some lane's next item is published (the consumer only).</summary>
    public bool HasPublishedItem
    {
        get
        {
            foreach (var lane in _lanes)
            {
                if (lane.HasPublishedItem)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private long Total(Func<IntakeRing<T>, long> measure)
    {
        long sum = 0;
        foreach (var lane in _lanes)
        {
            sum += measure(lane);
        }

        return sum;
    }

    /// <summary>Refuses every later offer, on every lane. <see cref="IsClosed"/> turns true only with the last lane.</summary>
    public void Close()
    {
        foreach (var lane in _lanes)
        {
            lane.Close();
        }
    }

    /// <summary>Publishes the consumer's progress on every lane; true when some head moved (the consumer only).</summary>
    public bool PublishHeads()
    {
        bool moved = false;
        foreach (var lane in _lanes)
        {
            moved |= lane.PublishHead();
        }

        return moved;
    }
}

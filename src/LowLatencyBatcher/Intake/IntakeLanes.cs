namespace LowLatencyBatcher.Intake;

/// <summary>
/// The intake of one run: one <see cref="IntakeRing{T}"/> per priority lane (just one without priorities), each with
/// its <see cref="RoomLine{T}"/> of submitters waiting for room. Each lane is bounded by <c>MaxQueueSize</c> on its own,
/// so a flood of bulk records never makes an urgent submit wait for room.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class IntakeLanes<T>
{
    private readonly IntakeRing<T>[] _lanes;
    private readonly RoomLine<T>[] _lines;

    /// <summary>Creates <paramref name="lanes"/> rings of <paramref name="limit"/> items each.</summary>
    public IntakeLanes(int lanes, int limit)
    {
        _lanes = new IntakeRing<T>[lanes];
        _lines = new RoomLine<T>[lanes];
        for (int i = 0; i < lanes; i++)
        {
            _lanes[i] = new IntakeRing<T>(limit);
            _lines[i] = new RoomLine<T>(_lanes[i]);
        }
    }

    /// <summary>The number of lanes.</summary>
    public int Count => _lanes.Length;

    /// <summary>The ring of lane <paramref name="lane"/> (0 is the most urgent).</summary>
    public IntakeRing<T> this[int lane] => _lanes[lane];

    /// <summary>The submitters waiting for room in lane <paramref name="lane"/>.</summary>
    public RoomLine<T> Line(int lane) => _lines[lane];

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

    /// <summary>
    /// Refuses every later offer, on every lane, and wakes every waiting submitter (each then sees the closed ring and
    /// is refused). <see cref="IsClosed"/> turns true only with the last lane.
    /// </summary>
    public void Close()
    {
        foreach (var lane in _lanes)
        {
            lane.Close(); // an atomic OR: a full fence before the wake-ups
        }

        foreach (var line in _lines)
        {
            line.ReleaseAll();
        }
    }

    /// <summary>Publishes the consumer's progress on every lane and gives a waiting submitter its turn where room appeared (the consumer only).</summary>
    public void PublishHeads()
    {
        for (int i = 0; i < _lanes.Length; i++)
        {
            if (_lanes[i].PublishHead())
            {
                _lines[i].NotifyIfWaiting();
            }
        }
    }
}

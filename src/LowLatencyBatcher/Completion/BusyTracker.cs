namespace LowLatencyBatcher.Completion;

/// <summary>
/// Measures the wall time during which at least one worker is inside the process function (the union of the
/// workers' busy intervals, not their sum).
/// </summary>
/// <remarks>
/// A short lock, taken twice per batch, keeps the count of workers inside, the start of the open interval and the
/// closed total consistent with each other, so a snapshot never goes back in time: a lock-free pair of words would
/// let a reader see an interval closed but not yet added to the total.
/// </remarks>
internal sealed class BusyTracker
{
    /// <summary>The most workers that may be inside at once.</summary>
    public const int MaxConcurrent = ushort.MaxValue;

    private readonly Lock _lock = new();
    private int _inside;
    private long _openedMicroseconds;
    private long _closedMicroseconds;
    private long _reportedMicroseconds;

    /// <summary>A worker enters the process function at <paramref name="nowMicroseconds"/>.</summary>
    public void Enter(long nowMicroseconds)
    {
        lock (_lock)
        {
            if (_inside++ == 0)
            {
                _openedMicroseconds = nowMicroseconds;
            }
        }
    }

    /// <summary>A worker leaves the process function at <paramref name="nowMicroseconds"/>.</summary>
    public void Exit(long nowMicroseconds)
    {
        lock (_lock)
        {
            if (--_inside == 0)
            {
                _closedMicroseconds += Math.Max(0, nowMicroseconds - _openedMicroseconds);
            }
        }
    }

    /// <summary>
    /// Busy time so far, counting an interval still open at <paramref name="nowMicroseconds"/>; never less than an
    /// earlier answer (a worker may close its interval at a time it read before a snapshot counted past it).
    /// </summary>
    public long BusyMicroseconds(long nowMicroseconds)
    {
        lock (_lock)
        {
            long busy = _closedMicroseconds + (_inside == 0 ? 0 : Math.Max(0, nowMicroseconds - _openedMicroseconds));
            _reportedMicroseconds = Math.Max(_reportedMicroseconds, busy);
            return _reportedMicroseconds;
        }
    }
}

namespace LowLatencyBatcher.Completion;

/// <summary>
/// Measures the wall time during which at least one worker is inside the process function (the union of the
/// workers' busy intervals, not their sum), without a lock.
/// </summary>
/// <remarks>
/// One 64-bit word holds both the number of workers inside (low 16 bits) and the time, in microseconds, at which
/// that number last went from 0 to 1 (the other 47 bits: over four years). Entering and leaving are CAS loops on
/// that word, so the worker that takes the count back to 0 reads exactly the start its interval began with.
/// </remarks>
internal sealed class BusyTracker
{
    private const int CountBits = 16;
    private const long CountMask = (1L << CountBits) - 1;

    private long _state;
    private long _closedMicroseconds;

    /// <summary>The most workers that may be inside at once.</summary>
    public const int MaxConcurrent = (int)CountMask;

    /// <summary>A worker enters the process function at <paramref name="nowMicroseconds"/>.</summary>
    public void Enter(long nowMicroseconds)
    {
        long state = Volatile.Read(ref _state);
        while (true)
        {
            long count = state & CountMask;
            long start = count == 0 ? nowMicroseconds : state >> CountBits;
            long seen = Interlocked.CompareExchange(ref _state, (start << CountBits) | (count + 1), state);
            if (seen == state)
            {
                return;
            }

            state = seen;
        }
    }

    /// <summary>A worker leaves the process function at <paramref name="nowMicroseconds"/>.</summary>
    public void Exit(long nowMicroseconds)
    {
        long state = Volatile.Read(ref _state);
        while (true)
        {
            long count = state & CountMask;
            long start = state >> CountBits;
            long seen = Interlocked.CompareExchange(ref _state, (start << CountBits) | (count - 1), state);
            if (seen == state)
            {
                if (count == 1)
                {
                    Interlocked.Add(ref _closedMicroseconds, Math.Max(0, nowMicroseconds - start));
                }

                return;
            }

            state = seen;
        }
    }

    /// <summary>Busy time so far, counting an interval still open at <paramref name="nowMicroseconds"/>; a snapshot.</summary>
    public long BusyMicroseconds(long nowMicroseconds)
    {
        long state = Volatile.Read(ref _state);
        long open = (state & CountMask) == 0 ? 0 : Math.Max(0, nowMicroseconds - (state >> CountBits));
        return Volatile.Read(ref _closedMicroseconds) + open;
    }
}

using System.Diagnostics;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// When a resumption turn (callers' continuations run in turn on one thread) should hand the rest of its callers on:
/// once it has run for its budget and its continuations are costly, since those are worth spreading over idle
/// threads; cheap ones cost more to hand over (every record's completion and the intake then cross between cores)
/// than they take to run, so they go on here up to a cap. It reads the clock only at checkpoints, spaced at about
/// half of what is left at the pace seen so far: a turn of cheap continuations reads it a handful of times, one of
/// costly continuations after every chunk.
/// </summary>
internal struct TurnBudget
{
    /// <summary>How long a turn of cheap continuations may run.</summary>
    public static readonly long CapTicks = Stopwatch.Frequency / 1_000; // 1 ms

    /// <summary>The mean time of a continuation from which a turn's continuations count as costly.</summary>
    public static readonly long CostlyContinuationTicks = Stopwatch.Frequency / 500_000; // 2 µs

    // The most continuations between two reads of the clock: bounds the overrun when they suddenly get slower (one that
    // blocks is the watch's business, see Worker.Watch).
    private const long MaxStride = 64;

    private readonly long _start;
    private readonly long _ticks;
    private readonly long _capTicks;
    private readonly long _costlyTicks;
    private readonly long _firstProgress;
    private long _nextCheck;

    /// <summary>
    /// Starts a turn of <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks; up to <paramref name="capTicks"/>
    /// while continuations take less than <paramref name="costlyTicks"/> each) at progress count
    /// <paramref name="progress"/>; the first check comes <paramref name="firstCheckAfter"/> continuations later.
    /// </summary>
    public TurnBudget(long ticks, long capTicks, long costlyTicks, long progress, long firstCheckAfter)
    {
        _start = Stopwatch.GetTimestamp();
        _ticks = ticks;
        _capTicks = Math.Max(ticks, capTicks);
        _costlyTicks = costlyTicks;
        _firstProgress = progress;
        _nextCheck = progress + firstCheckAfter;
    }

    /// <summary>A turn of <paramref name="ticks"/> with the engine's cap and threshold of a costly continuation.</summary>
    public TurnBudget(long ticks, long progress, long firstCheckAfter)
        : this(ticks, CapTicks, CostlyContinuationTicks, progress, firstCheckAfter)
    {
    }

    /// <summary>
    /// True once the turn should hand the rest on, <paramref name="progress"/> being how many continuations were
    /// started in all (the count the turn began with, plus its own); reads the clock only at its checkpoints.
    /// </summary>
    public bool IsSpent(long progress)
    {
        if (progress < _nextCheck)
        {
            return false;
        }

        long elapsed = Stopwatch.GetTimestamp() - _start;
        long done = progress - _firstProgress;
        if (elapsed > _capTicks || (elapsed > _ticks && elapsed >= done * _costlyTicks))
        {
            return true;
        }

        long limit = elapsed <= _ticks ? _ticks : _capTicks;
        long affordable = elapsed <= 0 ? MaxStride : (limit - elapsed) * done / elapsed; // at the pace so far
        _nextCheck = progress + Math.Clamp(affordable / 2, 1, MaxStride);
        return false;
    }
}

using System.Diagnostics;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The time budget of one resumption turn (callers' continuations run in turn on one thread), checked between
/// continuations without reading the clock after each: it reads it again when about half of what is left would be
/// used at the pace seen so far, so a turn of cheap continuations reads the clock a handful of times, not once per
/// chunk, while a turn of costly ones still reads it after every chunk.
/// </summary>
internal struct TurnBudget
{
    // The most continuations between two reads of the clock: bounds the overrun when they suddenly get slower (one that
    // blocks is the watch's business, see Worker.Watch).
    private const long MaxStride = 64;

    private readonly long _start;
    private readonly long _ticks;
    private readonly long _firstProgress;
    private long _nextCheck;

    /// <summary>
    /// Starts a turn of <paramref name="ticks"/> (<see cref="Stopwatch"/> ticks) at progress count
    /// <paramref name="progress"/>; the first check comes <paramref name="firstCheckAfter"/> continuations later.
    /// </summary>
    public TurnBudget(long ticks, long progress, long firstCheckAfter)
    {
        _start = Stopwatch.GetTimestamp();
        _ticks = ticks;
        _firstProgress = progress;
        _nextCheck = progress + firstCheckAfter;
    }

    /// <summary>
    /// True once the turn has used its budget, <paramref name="progress"/> being how many continuations were started
    /// in all (the count the turn began with, plus its own); reads the clock only at its checkpoints.
    /// </summary>
    public bool IsSpent(long progress)
    {
        if (progress < _nextCheck)
        {
            return false;
        }

        long elapsed = Stopwatch.GetTimestamp() - _start;
        if (elapsed > _ticks)
        {
            return true;
        }

        long done = progress - _firstProgress;
        long affordable = elapsed <= 0 ? MaxStride : (_ticks - elapsed) * done / elapsed; // at the pace so far
        _nextCheck = progress + Math.Clamp(affordable / 2, 1, MaxStride);
        return false;
    }
}

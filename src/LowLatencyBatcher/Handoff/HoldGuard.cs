using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// Keeps the idle fast path from holding submitters: a record run alone keeps its submitter inside the submit until
/// the process function returns its task. <see cref="SlowRunsInARow"/> runs in a row that each held it longer than
/// <see cref="HoldLimit"/> put the fast path off for a while — 10 ms, doubling with every further slow run up to 1 s —
/// and the next eligible submit after that tries again; a quick run clears it all. So a process function that blocks
/// costs a few records' batching now and then, a quick one keeps the fast path, and the odd run that the scheduler
/// or the JIT slowed down changes nothing. Races between submitters only shift the back-off a little.
/// </summary>
internal sealed class HoldGuard
{
    /// <summary>The longest a run alone may hold its submitter before the function returns its task.</summary>
    public static readonly TimeSpan HoldLimit = TimeSpan.FromMicroseconds(50);

    /// <summary>How many slow runs in a row put the fast path off.</summary>
    public const int SlowRunsInARow = 3;

    private static readonly TimeSpan FirstBackOff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestBackOff = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly long _limitTicks;
    private int _slowRuns; // slow runs in a row
    private long _backOffTicks; // 0 while the last run was quick
    private long _offUntil; // timestamp before which the fast path is not tried; 0 when it is on

    /// <summary>Creates a guard on <paramref name="time"/>'s clock.</summary>
    public HoldGuard(TimeProvider time)
    {
        _time = time;
        _limitTicks = Timestamps.ToTicks(HoldLimit, time.TimestampFrequency);
    }

    /// <summary>Whether the fast path may be tried now (one clock read only while it is backed off).</summary>
    public bool AllowsRun()
    {
        long offUntil = Volatile.Read(ref _offUntil);
        return offUntil == 0 || _time.GetTimestamp() >= offUntil;
    }

    /// <summary>Takes note of a run that held its submitter for <paramref name="heldTicks"/> of the clock, ending at <paramref name="now"/>.</summary>
    public void Record(long heldTicks, long now)
    {
        if (heldTicks <= _limitTicks)
        {
            // Plain volatile stores, no CAS: two submitters racing here can only lose one count of a slow streak, which
            // shifts the back-off by a run; the fast path's correctness never depends on these fields.
            if (Volatile.Read(ref _slowRuns) != 0)
            {
                Volatile.Write(ref _slowRuns, 0);
                Volatile.Write(ref _backOffTicks, 0);
                Volatile.Write(ref _offUntil, 0);
            }

            return;
        }

        if (Interlocked.Increment(ref _slowRuns) < SlowRunsInARow) // atomic: submitters on several threads may record at once
        {
            return;
        }

        long first = Timestamps.ToTicks(FirstBackOff, _time.TimestampFrequency);
        long longest = Timestamps.ToTicks(LongestBackOff, _time.TimestampFrequency);
        long backOff = Math.Clamp(Volatile.Read(ref _backOffTicks) * 2, first, longest);
        Volatile.Write(ref _backOffTicks, backOff);
        Volatile.Write(ref _offUntil, now + backOff);
    }
}

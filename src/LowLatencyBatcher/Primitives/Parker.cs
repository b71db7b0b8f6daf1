namespace LowLatencyBatcher.Primitives;

/// <summary>
/// Lets one thread sleep until another thread has work for it, with many possible wakers.
/// </summary>
/// <remarks>
/// Protocol (a Dekker handshake): the sleeper calls <see cref="PrepareToPark"/>, re-checks for work, then calls
/// either <see cref="CancelPark"/> or <see cref="Park"/>. A waker first publishes its work with a full fence, then
/// calls <see cref="Unpark"/>. Either the sleeper's re-check sees the work, or the waker sees the flag and sets the
/// event: a wake-up is never lost. A stale <see cref="Unpark"/> can only cause one spurious wake-up, which the
/// sleeper's loop absorbs. Unpark costs one volatile read when the sleeper is awake. The event is never disposed:
/// a late waker must always be able to set it (it holds no kernel handle unless one is asked for).
/// </remarks>
internal sealed class Parker
{
    private readonly ManualResetEventSlim _event = new(initialState: false, spinCount: 1);
    private int _parked;

    /// <summary>True while the sleeper has flagged itself as parked.</summary>
    public bool IsParked => Volatile.Read(ref _parked) != 0;

    /// <summary>Flags the sleeper as parked (the sleeper only). Full fence: the re-check that follows is ordered after it.</summary>
    public void PrepareToPark()
    {
        _event.Reset();
        Interlocked.Exchange(ref _parked, 1); // full fence: the flag is set before the sleeper's re-check reads
    }

    /// <summary>Withdraws the flag after the re-check found work (the sleeper only).</summary>
    public void CancelPark() => Volatile.Write(ref _parked, 0);

    /// <summary>Sleeps until woken or until <paramref name="timeoutMilliseconds"/> passes (the sleeper only).</summary>
    public void Park(int timeoutMilliseconds)
    {
        _event.Wait(timeoutMilliseconds);
        Volatile.Write(ref _parked, 0); // awake: later wakers skip the event (a stale one costs one spurious wake)
    }

    /// <summary>Wakes the sleeper if it is parked (any thread, after publishing its work with a full fence).</summary>
    public void Unpark()
    {
        if (Volatile.Read(ref _parked) != 0 && Interlocked.Exchange(ref _parked, 0) != 0) // the exchange: one waker sets the event per park
        {
            _event.Set();
        }
    }
}

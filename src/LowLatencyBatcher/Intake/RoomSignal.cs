namespace LowLatencyBatcher.Intake;

/// <summary>
/// Wakes submitters that wait for room in a full intake ring (backpressure). This is the slow path: it may lock and
/// allocate, the fast path never comes here.
/// </summary>
/// <remarks>
/// Protocol (Dekker): a submitter takes the wait task (a full fence follows), retries its offer, and awaits only
/// if the ring is still full. The packing thread publishes its new head, fences, then releases the waiters if any.
/// Either the retry sees the room or the packing thread sees the waiter. A release wakes every waiter; each retries.
/// </remarks>
internal sealed class RoomSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiters;

    /// <summary>The task to await before retrying an offer; take it before the retry.</summary>
    public Task PrepareWait()
    {
        Task task;
        lock (_lock)
        {
            task = (_waiters ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        Interlocked.MemoryBarrier(); // the retry that follows must not be read before the waiter became visible
        return task;
    }

    /// <summary>Wakes the waiters if there are any (the packing thread, after publishing room).</summary>
    public void NotifyIfWaiting()
    {
        Interlocked.MemoryBarrier(); // orders the head just published before the read of the waiters
        if (Volatile.Read(ref _waiters) is not null)
        {
            Release();
        }
    }

    /// <summary>Wakes every waiter (room appeared, or the ring closed).</summary>
    public void Release()
    {
        TaskCompletionSource? waiters;
        lock (_lock)
        {
            waiters = _waiters;
            _waiters = null;
        }

        waiters?.TrySetResult();
    }
}

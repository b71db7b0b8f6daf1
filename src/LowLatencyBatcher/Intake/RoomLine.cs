namespace LowLatencyBatcher.Intake;

/// <summary>
/// The line of submitters waiting for room in one full intake ring (backpressure), admitted in the order they joined.
/// This is the slow path: it locks and allocates; the fast path only reads <see cref="HasWaiters"/>.
/// </summary>
/// <remarks>
/// <para>Order: while anyone waits, a new submit joins the line instead of offering directly, and records are moved
/// from the line into the ring strictly from its front. So a caller that fires <c>SubmitAsync(a)</c> then
/// <c>SubmitAsync(b)</c> without awaiting keeps a before b even when a had to wait: a joined before the first call
/// returned.</para>
/// <para>Admission: whoever sees room moves records from the front of the line into the ring, as many as fit, under the
/// line's lock: the submitter that joins, and the packing thread after it publishes room. A Dekker handshake keeps a
/// waiter from being forgotten: the joiner makes itself visible and fences before it offers; the packing thread
/// publishes its new head and fences before it looks for waiters.</para>
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class RoomLine<T>(IntakeRing<T> ring)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _line = new();
    private int _count;

    /// <summary>True while someone waits for room: a new submit must join the line behind them.</summary>
    public bool HasWaiters => Volatile.Read(ref _count) != 0;

    /// <summary>
    /// Joins the end of the line with <paramref name="item"/> and admits what fits. The waiter's task completes with
    /// true once its item is in the ring, or false if the ring closed first. <paramref name="admittedAny"/> says
    /// whether this call put records into the ring (this one, or others that waited before it): the caller then wakes
    /// the consumer, since the admitted waiters' own continuations run only later, on the thread pool.
    /// </summary>
    public Waiter Join(in T item, out bool admittedAny)
    {
        var waiter = new Waiter(item);
        lock (_lock)
        {
            waiter.Node = _line.AddLast(waiter);
            Volatile.Write(ref _count, _line.Count);
            Interlocked.MemoryBarrier(); // the waiter is visible before the ring's head is read (see the remarks)
            admittedAny = AdmitLocked();
        }

        return waiter;
    }

    /// <summary>
    /// Leaves the line unadmitted (the caller gave up waiting). False when it is too late: the item was admitted (or
    /// refused) meanwhile, and the waiter's task says which.
    /// </summary>
    public bool TryLeave(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is null)
            {
                return false;
            }

            _line.Remove(waiter.Node);
            Volatile.Write(ref _count, _line.Count);
            return true;
        }
    }

    /// <summary>Admits waiting records that now fit (the packing thread, after publishing room).</summary>
    public void NotifyIfWaiting()
    {
        Interlocked.MemoryBarrier(); // orders the head just published before the read of the count
        if (HasWaiters)
        {
            lock (_lock)
            {
                AdmitLocked();
            }
        }
    }

    /// <summary>Refuses every waiter (the ring closed); the ring refuses every later one itself.</summary>
    public void ReleaseAll()
    {
        lock (_lock)
        {
            AdmitLocked();
        }
    }

    /// <summary>
    /// Moves records from the front of the line into the ring while they fit; returns whether any went in. Runs no
    /// caller code under the lock (the waiters' continuations are queued to the pool), so the consumer that takes the
    /// lock after publishing room waits at most for this loop.
    /// </summary>
    private bool AdmitLocked()
    {
        bool admitted = false;
        while (_line.First is { } first)
        {
            var outcome = ring.TryEnqueue(first.Value.Item);
            if (outcome == EnqueueOutcome.Full)
            {
                return admitted;
            }

            _line.RemoveFirst();
            Volatile.Write(ref _count, _line.Count);
            admitted |= outcome == EnqueueOutcome.Enqueued;
            first.Value.Admitted.TrySetResult(outcome == EnqueueOutcome.Enqueued);
        }

        return admitted;
    }

    /// <summary>One submitter in the line.</summary>
    internal sealed class Waiter(T item)
    {
        public T Item { get; } = item;

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>True once admitted into the ring; false when the ring closed first.</summary>
        public TaskCompletionSource<bool> Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

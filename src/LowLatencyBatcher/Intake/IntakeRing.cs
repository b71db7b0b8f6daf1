using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Intake;

/// <summary>
/// Bounded many-producer / single-consumer ring of struct slots (the producers' intake).
/// </summary>
/// <remarks>
/// Invariants, in the manner of ConcurrentQueueSegment:
/// <list type="bullet">
/// <item>Each slot carries a sequence number. <c>seq == pos</c>: the slot is free for the producer of position
/// <c>pos</c>; <c>seq == pos + 1</c>: the item of position <c>pos</c> is published; the consumer frees it by writing
/// <c>pos + capacity</c>, the value the producer of the next lap expects.</item>
/// <item>A producer claims position <c>tail</c> with one CAS on the tail, fills the slot, then publishes it. Positions
/// are claimed only while <c>tail - head &lt; Limit</c>; since <c>Limit &lt;= capacity</c>, the slot being claimed was
/// freed before the consumer advanced the head past it.</item>
/// <item>Only the consumer writes the head. It frees each slot as it reads it but publishes the head once per drained
/// run, so producers' reads of the head bounce its cache line once per run, not once per item.</item>
/// <item>Closing sets <see cref="ClosedBit"/> in the tail with one atomic OR: every later claim's CAS fails, so the
/// tail without that bit is the exact count of items ever accepted; the consumer drains up to it.</item>
/// </list>
/// </remarks>
/// <typeparam name="T">The item type, stored inline in the slot.</typeparam>
internal sealed class IntakeRing<T>
{
    private const long ClosedBit = 1L << 62;

    private readonly Slot[] _slots;
    private readonly long _mask;
    private PaddedCursor _head; // written by the consumer only
    private PaddedCursor _tail; // claimed by producers with CAS; ClosedBit marks a closed ring
    private long _headUnpublished; // the consumer's private head, ahead of _head within a drained run

    /// <summary>Creates a ring that holds at most <paramref name="limit"/> waiting items.</summary>
    public IntakeRing(int limit)
    {
        Debug.Assert(limit >= 1 && limit <= 1 << 30);
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)limit);
        _slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }

        _mask = capacity - 1;
        Limit = limit;
    }

    /// <summary>The most items that may wait in the ring at once.</summary>
    public int Limit { get; }

    /// <summary>The number of slots (a power of two, at least <see cref="Limit"/>).</summary>
    public int Capacity => _slots.Length;

    /// <summary>True once <see cref="Close"/> ran.</summary>
    public bool IsClosed => (Volatile.Read(ref _tail.Value) & ClosedBit) != 0;

    /// <summary>The number of items ever accepted (claimed positions, published or about to be).</summary>
    public long AcceptedCount => Volatile.Read(ref _tail.Value) & ~ClosedBit;

    /// <summary>Items accepted but not yet drained; a racy snapshot for statistics.</summary>
    public long WaitingCount => Math.Max(0, AcceptedCount - Volatile.Read(ref _head.Value));

    /// <summary>
    /// Offers an item (any thread). On <see cref="EnqueueOutcome.Enqueued"/> the item is published with a full
    /// fence, so a caller may read the consumer's "parked" flag right after without a store-load reordering.
    /// </summary>
    public EnqueueOutcome TryEnqueue(in T item)
    {
        long tail = Volatile.Read(ref _tail.Value); // acquire: a fresh claim position and the closed bit
        while (true)
        {
            if ((tail & ClosedBit) != 0)
            {
                return EnqueueOutcome.Closed;
            }

            if (tail - Volatile.Read(ref _head.Value) >= Limit) // acquire: the consumer's published progress
            {
                return EnqueueOutcome.Full;
            }

            long seen = Interlocked.CompareExchange(ref _tail.Value, tail + 1, tail); // the claim: one producer wins each position
            if (seen == tail)
            {
                break;
            }

            tail = seen; // another producer won, or the ring was closed: re-check with the fresh value
        }

        ref Slot slot = ref _slots[tail & _mask];
        Debug.Assert(Volatile.Read(ref slot.Sequence) == tail, "a claimed slot is always free (Limit <= capacity)");
        slot.Item = item;
        // Publish. Exchange rather than Volatile.Write: the full fence orders this store before the caller's next
        // load (the consumer's parked flag), which a plain release store would not (Dekker pattern).
        Interlocked.Exchange(ref slot.Sequence, tail + 1);
        return EnqueueOutcome.Enqueued;
    }

    /// <summary>
    /// Takes the next published item (the consumer only). False when the ring is empty or the next claimed
    /// position is not published yet; call <see cref="PublishHead"/> after a run of takes.
    /// </summary>
    public bool TryDequeue(out T item)
    {
        long head = _headUnpublished;
        ref Slot slot = ref _slots[head & _mask];
        if (Volatile.Read(ref slot.Sequence) != head + 1) // acquire: the producer's item write happened before its publish
        {
            item = default!;
            return false;
        }

        item = slot.Item;
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            slot.Item = default!; // drop references so the GC can reclaim drained records
        }

        // Release: the slot's contents were read (and cleared) before a producer of the next lap may reuse it.
        Volatile.Write(ref slot.Sequence, head + _slots.Length);
        _headUnpublished = head + 1;
        return true;
    }

    /// <summary>True when the next item is published and <see cref="TryDequeue"/> would take it (the consumer only).</summary>
    public bool HasPublishedItem =>
        Volatile.Read(ref _slots[_headUnpublished & _mask].Sequence) == _headUnpublished + 1; // acquire, as in TryDequeue

    /// <summary>
    /// Makes the consumer's progress visible to producers (the consumer only). Returns true when the head moved.
    /// </summary>
    public bool PublishHead()
    {
        if (_headUnpublished == _head.Value)
        {
            return false;
        }

        Volatile.Write(ref _head.Value, _headUnpublished); // release: the freed slots' sequences were written before
        return true;
    }

    /// <summary>
    /// True when the consumer has taken every item that was accepted before <see cref="Close"/> (the consumer only).
    /// </summary>
    public bool IsDrainedAfterClose => IsClosed && _headUnpublished == AcceptedCount;

    /// <summary>Refuses every later offer. Idempotent; any thread.</summary>
    public void Close() => Interlocked.Or(ref _tail.Value, ClosedBit);

    private struct Slot
    {
        public T Item;
        public long Sequence;
    }
}

using System.Diagnostics;
using System.Numerics;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// Bounded single-producer / many-consumer ring of struct slots carrying sealed batches from the packing thread to
/// the workers (the prefetch buffer).
/// </summary>
/// <remarks>
/// Invariants:
/// <list type="bullet">
/// <item>Slot sequence numbers follow the intake ring's rule: <c>seq == pos</c> free, <c>pos + 1</c> published,
/// <c>pos + capacity</c> freed for the next lap.</item>
/// <item>Only the producer (the packing thread) writes the tail, so publishing needs no CAS. Consumers claim a
/// position with a CAS on the head, read the slot, then free it; the producer checks the slot's sequence as well as
/// <see cref="Limit"/>, because a consumer may have claimed a position without having freed its slot yet.</item>
/// <item>Any thread may consume: workers do, and the packing thread does when a stop is aborted.</item>
/// <item>The capacity is at least 2, even for a limit of 1. With one slot the value a consumer leaves in it between its
/// claim and its free (<c>pos + 1</c>, published) would equal the value that tells the producer the slot is free for
/// the next position (<c>tail == pos + 1</c>): the producer would overwrite an item that a consumer is still reading,
/// which then lands twice or never.</item>
/// </list>
/// </remarks>
/// <typeparam name="T">The item type (a batch).</typeparam>
internal sealed class BatchRing<T>
    where T : class
{
    private readonly Slot[] _slots;
    private readonly long _mask;
    private PaddedCursor _head; // claimed by consumers with CAS
    private PaddedCursor _tail; // written by the producer only
    private volatile bool _completed;

    /// <summary>Creates a ring that holds at most <paramref name="limit"/> items.</summary>
    public BatchRing(int limit)
    {
        Debug.Assert(limit >= 1 && limit <= 1 << 20);
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(limit, 2)); // see the remarks
        _slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _slots[i].Sequence = i;
        }

        _mask = capacity - 1;
        Limit = limit;
    }

    /// <summary>The most items the ring holds at once.</summary>
    public int Limit { get; }

    /// <summary>True when no item waits for a consumer (exact for the producer; a snapshot for others).</summary>
    public bool IsEmpty => Volatile.Read(ref _head.Value) == Volatile.Read(ref _tail.Value);

    /// <summary>The number of items waiting; a snapshot.</summary>
    public int Count => (int)Math.Max(0, Volatile.Read(ref _tail.Value) - Volatile.Read(ref _head.Value));

    /// <summary>True once the producer said no more items will come.</summary>
    public bool IsCompleted => _completed;

    /// <summary>
    /// Publishes an item (the producer only). False when the ring is full. On success the publication is a full
    /// fence, so the producer may read the consumers' parked flags right after.
    /// </summary>
    public bool TryEnqueue(T item)
    {
        long tail = _tail.Value;
        if (tail - Volatile.Read(ref _head.Value) >= Limit) // acquire: the consumers' claims
        {
            return false;
        }

        ref Slot slot = ref _slots[tail & _mask];
        if (Volatile.Read(ref slot.Sequence) != tail) // acquire: the slot was freed after its last item was read
        {
            return false; // a consumer claimed this slot's previous item and is still reading it
        }

        slot.Item = item;
        Volatile.Write(ref slot.Sequence, tail + 1); // release: the item is written before it is published
        // Full fence (see the summary): orders the publication before the producer's reads of the parked flags.
        Interlocked.Exchange(ref _tail.Value, tail + 1);
        return true;
    }

    /// <summary>Takes the oldest item (any thread). False when none is published.</summary>
    public bool TryDequeue(out T item)
    {
        long head = Volatile.Read(ref _head.Value); // acquire: a fresh claim position
        while (true)
        {
            ref Slot slot = ref _slots[head & _mask];
            long sequence = Volatile.Read(ref slot.Sequence); // acquire: the producer's publication
            if (sequence == head + 1)
            {
                if (Interlocked.CompareExchange(ref _head.Value, head + 1, head) == head) // the claim: one consumer wins each item
                {
                    item = slot.Item!;
                    slot.Item = null;
                    // Release: the item was read before the producer may write this slot again.
                    Volatile.Write(ref slot.Sequence, head + _slots.Length);
                    return true;
                }
            }
            else if (sequence < head + 1)
            {
                item = null!;
                return false; // empty: the slot still waits for this lap's item
            }

            head = Volatile.Read(ref _head.Value); // lost a race, or our head was stale: retry with the fresh one
        }
    }

    /// <summary>Says that no more items will be published (the producer only, after its last enqueue).</summary>
    public void Complete() => _completed = true;

    private struct Slot
    {
        public T? Item;
        public long Sequence;
    }
}

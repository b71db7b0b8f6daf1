using System.Collections;
using LowLatencyBatcher.Intake;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// A pooled batch: the entries the packing thread put in it, and — once a worker claimed them — the view of the
/// live records that the process function sees.
/// </summary>
/// <remarks>
/// The entry arrays never move once the batch is sealed, so an aborted stop can walk them while a worker is using
/// the batch. The process function sees a separate, compacted copy of the records that were still live when the
/// worker claimed them (records cancelled in the meantime are left out).
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class Batch<TRecord, TResult> : IReadOnlyList<TRecord>
{
    private readonly IntakeItem<TRecord, TResult>[] _entries;
    private readonly TRecord[] _live;
    private readonly int[] _liveEntry;
    private readonly long[] _liveArrival;
    private readonly Enumerator _enumerator;
    private int _entryCount;
    private int _liveCount;

    /// <summary>Creates an empty batch for up to <paramref name="capacity"/> records.</summary>
    public Batch(int capacity)
    {
        _entries = new IntakeItem<TRecord, TResult>[capacity];
        _live = new TRecord[capacity];
        _liveEntry = new int[capacity];
        _liveArrival = new long[capacity];
        _enumerator = new Enumerator(this);
    }

    /// <summary>Records the packing thread put in the batch.</summary>
    public int EntryCount => _entryCount;

    /// <summary>Their summed cost.</summary>
    public long EntryCost { get; private set; }

    /// <summary>Timestamp at which the batch's first record was submitted.</summary>
    public long FirstArrival { get; private set; }

    /// <summary>Why the batch was sent.</summary>
    public DispatchReason Reason { get; set; }

    /// <summary>The summed cost of the live records (after <see cref="ClaimLiveRecords"/>).</summary>
    public long LiveCost { get; private set; }

    /// <summary>The submit timestamps of the live records, in view order.</summary>
    public ReadOnlySpan<long> LiveArrivals => _liveArrival.AsSpan(0, _liveCount);

    /// <summary>The number of live records the process function sees.</summary>
    public int Count => _liveCount;

    /// <summary>The live record at <paramref name="index"/>.</summary>
    public TRecord this[int index] =>
        (uint)index < (uint)_liveCount ? _live[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Starts filling the batch; its timeout counts from <paramref name="firstArrival"/> (the packing thread).</summary>
    public void Open(long firstArrival) => FirstArrival = firstArrival;

    /// <summary>Adds an entry (the packing thread).</summary>
    public void Add(in IntakeItem<TRecord, TResult> item)
    {
        _entries[_entryCount++] = item;
        EntryCost += item.Cost;
    }

    /// <summary>
    /// Claims every entry that is still queued for processing and builds the view of them (the worker that took the
    /// batch). Returns the number of live records.
    /// </summary>
    public int ClaimLiveRecords()
    {
        int live = 0;
        long cost = 0;
        for (int i = 0; i < _entryCount; i++)
        {
            ref readonly var entry = ref _entries[i];
            if (entry.Completion.TryStartRunning(entry.Generation))
            {
                _live[live] = entry.Record;
                _liveEntry[live] = i;
                _liveArrival[live] = entry.Arrival;
                cost += entry.Cost;
                live++;
            }
        }

        _liveCount = live;
        LiveCost = cost;
        return live;
    }

    /// <summary>Gives live record <c>i</c> result <c>i</c>; returns how many records this completed.</summary>
    public int CompleteWith(IReadOnlyList<TResult> results)
    {
        int completed = 0;
        int i = 0;
        try
        {
            for (; i < _liveCount; i++)
            {
                ref readonly var entry = ref _entries[_liveEntry[i]];
                if (entry.Completion.TrySetResult(entry.Generation, results[i]))
                {
                    completed++;
                }
            }
        }
        catch (Exception e)
        {
            // The results list itself failed (a throwing indexer): the records without a result get its exception.
            for (; i < _liveCount; i++)
            {
                ref readonly var entry = ref _entries[_liveEntry[i]];
                if (entry.Completion.TrySetException(entry.Generation, e))
                {
                    completed++;
                }
            }
        }

        return completed;
    }

    /// <summary>Fails every live record with <paramref name="exception"/>; returns how many this completed.</summary>
    public int FailLive(Exception exception)
    {
        int completed = 0;
        for (int i = 0; i < _liveCount; i++)
        {
            ref readonly var entry = ref _entries[_liveEntry[i]];
            if (entry.Completion.TrySetException(entry.Generation, exception))
            {
                completed++;
            }
        }

        return completed;
    }

    /// <summary>
    /// Fails every entry not completed yet, live or not (an aborted stop, which may run while a worker uses the
    /// batch); returns how many this completed.
    /// </summary>
    public int FailAll(Exception exception)
    {
        int completed = 0;
        for (int i = 0; i < _entryCount; i++)
        {
            ref readonly var entry = ref _entries[i];
            if (entry.Completion.TrySetException(entry.Generation, exception))
            {
                completed++;
            }
        }

        return completed;
    }

    /// <summary>Empties the batch for reuse, dropping every reference it held.</summary>
    public void Clear()
    {
        Array.Clear(_entries, 0, _entryCount);
        Array.Clear(_live, 0, _liveCount);
        _entryCount = 0;
        _liveCount = 0;
        EntryCost = 0;
        LiveCost = 0;
        FirstArrival = 0;
        Reason = DispatchReason.None;
        _enumerator.Release();
    }

    /// <summary>
    /// Enumerates the live records. The first enumerator of a batch is reused (no allocation); a second one taken
    /// while the first is still in use is a new object.
    /// </summary>
    public IEnumerator<TRecord> GetEnumerator() =>
        _enumerator.TryAcquire() ? _enumerator : new Enumerator(this) { InUse = 1 };

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private sealed class Enumerator(Batch<TRecord, TResult> batch) : IEnumerator<TRecord>
    {
        private int _index = -1;

        public int InUse;

        public TRecord Current => batch[_index];

        object? IEnumerator.Current => Current;

        public bool TryAcquire()
        {
            if (Interlocked.Exchange(ref InUse, 1) != 0)
            {
                return false;
            }

            _index = -1;
            return true;
        }

        public void Release() => Volatile.Write(ref InUse, 0);

        public bool MoveNext() => ++_index < batch.Count;

        public void Reset() => _index = -1;

        public void Dispose() => Release();
    }
}

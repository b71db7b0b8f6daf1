using System.Collections;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// What the process function sees of a batch: the records that were still live when a worker claimed the batch,
/// compacted, shown through a window (all of them, or the part that failure isolation retries), with the per-record
/// outcomes a call gave.
/// </summary>
/// <remarks>
/// The view is a separate copy of the live records: the batch's entries never move once it is sealed, so an aborted
/// stop can walk them while a worker uses the view. Only the worker that claimed the batch touches the view, except
/// the per-record settled flags, which a process function may set from several threads (exchanged, so an outcome is
/// given once).
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class RecordView<TRecord, TResult> : IRecordBatch<TRecord, TResult>
{
    private readonly Batch<TRecord, TResult> _batch;
    private readonly BatcherCounters _counters;
    private readonly ReusableEnumerator<TRecord> _enumerator;
    private TRecord[] _live;
    private int[] _liveEntry; // per live record: its index among the batch's entries
    private long[] _liveArrival;
    private int[] _settled; // per live record: 1 once it has an outcome from the current call
    private int _liveCount;
    private int _windowStart;
    private int _windowCount;

    /// <summary>Creates the view of <paramref name="batch"/>, for up to <paramref name="capacity"/> records.</summary>
    public RecordView(Batch<TRecord, TResult> batch, int capacity, BatcherCounters counters)
    {
        _batch = batch;
        _counters = counters;
        _live = new TRecord[capacity];
        _liveEntry = new int[capacity];
        _liveArrival = new long[capacity];
        _settled = new int[capacity];
        _enumerator = new ReusableEnumerator<TRecord>(this);
    }

    /// <summary>The number of records the process function sees (the window).</summary>
    public int Count => _windowCount;

    /// <summary>The record at <paramref name="index"/> of the window.</summary>
    public TRecord this[int index] =>
        (uint)index < (uint)_windowCount ? _live[_windowStart + index] : ThrowHelper.IndexOutOfRange<TRecord>(index, _windowCount);

    /// <summary>The number of records claimed by the worker (the window may show fewer).</summary>
    public int LiveCount => _liveCount;

    /// <summary>The cost of the live records under the batch's cost model.</summary>
    public long LiveCost { get; private set; }

    /// <summary>The submit timestamps of the live records.</summary>
    public ReadOnlySpan<long> LiveArrivals => _liveArrival.AsSpan(0, _liveCount);

    /// <summary>Where the window starts among the live records.</summary>
    public int WindowStart => _windowStart;

    /// <summary>Makes room for <paramref name="capacity"/> records (a reconfiguration raised <c>MaxBatchSize</c>; while empty).</summary>
    public void EnsureCapacity(int capacity)
    {
        if (_live.Length < capacity)
        {
            _live = new TRecord[capacity];
            _liveEntry = new int[capacity];
            _liveArrival = new long[capacity];
            _settled = new int[capacity];
        }
    }

    /// <summary>
    /// Claims every entry of the batch that is still queued for processing and builds the view of them (the worker that
    /// took the batch). Returns the number of live records; the window covers them all.
    /// </summary>
    public int ClaimLiveRecords()
    {
        int live = 0;
        long cost = 0;
        int maxCost = 0;
        for (int i = 0; i < _batch.EntryCount; i++)
        {
            ref readonly var entry = ref _batch.Entry(i);
            // A record nothing but an aborted stop can complete while queued needs no hand-over CAS: the abort may
            // complete it while it runs all the same, just as it may complete a running one.
            bool taken = entry.MayBeDropped
                ? entry.Completion.TryStartRunning(entry.Generation)
                : entry.Completion.IsQueued(entry.Generation);
            if (taken)
            {
                _live[live] = entry.Record;
                _liveEntry[live] = i;
                // Unstamped (no observer at its submit): the batch's opening is the nearest submit time known.
                _liveArrival[live] = entry.Arrival != Timestamps.NotStamped ? entry.Arrival : _batch.FirstArrival;
                cost += entry.Cost;
                maxCost = Math.Max(maxCost, entry.Cost);
                live++;
            }
        }

        _liveCount = live;
        LiveCost = _batch.Rules.CostOf(live, cost, maxCost);
        SetWindow(0, live);
        return live;
    }

    /// <summary>Shows the process function live records [<paramref name="start"/>, start + count) only, none settled yet.</summary>
    public void SetWindow(int start, int count)
    {
        _windowStart = start;
        _windowCount = count;
        Array.Clear(_settled, start, count);
    }

    /// <summary>
    /// Moves the window's records that have no outcome yet to its front, by swapping (so the window still holds every
    /// record and arrival), and returns how many there are. Only the worker uses the view, so moving is safe.
    /// </summary>
    public int GatherUnsettled()
    {
        int kept = _windowStart;
        for (int i = _windowStart; i < _windowStart + _windowCount; i++)
        {
            if (_settled[i] == 0)
            {
                (_live[kept], _live[i]) = (_live[i], _live[kept]);
                (_liveEntry[kept], _liveEntry[i]) = (_liveEntry[i], _liveEntry[kept]);
                (_liveArrival[kept], _liveArrival[i]) = (_liveArrival[i], _liveArrival[kept]);
                (_settled[kept], _settled[i]) = (_settled[i], _settled[kept]);
                kept++;
            }
        }

        return kept - _windowStart;
    }

    /// <summary>Window records without an outcome yet.</summary>
    public int CountUnsettled()
    {
        int count = 0;
        for (int i = _windowStart; i < _windowStart + _windowCount; i++)
        {
            count += 1 - Volatile.Read(ref _settled[i]); // flags a process function may set from other threads
        }

        return count;
    }

    /// <summary>
    /// Gives window record <c>i</c> result <c>i</c>, held until the batch's outcomes are released; returns how many
    /// records this completed.
    /// </summary>
    public int CompleteWith(IReadOnlyList<TResult> results)
    {
        var outcomes = _batch.Outcomes;
        int completed = 0;
        int i = 0;
        try
        {
            for (; i < _windowCount; i++)
            {
                var result = results[i]; // read before the claim: a throwing indexer leaves the record unclaimed
                ref readonly var entry = ref WindowEntry(i);
                if (outcomes.TryHold(entry.Completion, entry.Generation, result))
                {
                    completed++;
                }
            }
        }
        catch (Exception e)
        {
            // The results list itself failed (a throwing indexer): the records without a result get its exception.
            for (; i < _windowCount; i++)
            {
                ref readonly var entry = ref WindowEntry(i);
                completed += outcomes.TryHold(entry.Completion, entry.Generation, e) ? 1 : 0;
            }
        }

        return completed;
    }

    /// <summary>Fails every window record without an outcome, held until the release; returns how many this completed.</summary>
    public int FailUnsettled(Exception exception)
    {
        int completed = 0;
        for (int i = 0; i < _windowCount; i++)
        {
            if (Interlocked.Exchange(ref _settled[_windowStart + i], 1) == 0) // exchange: a record the function settles concurrently is not failed too
            {
                ref readonly var entry = ref WindowEntry(i);
                completed += _batch.Outcomes.TryHold(entry.Completion, entry.Generation, exception) ? 1 : 0;
            }
        }

        return completed;
    }

    /// <inheritdoc />
    public void SetResult(int index, TResult result)
    {
        ref readonly var entry = ref Settle(index);
        if (entry.Completion.TryClaim(entry.Generation))
        {
            _counters.AddCompleted(1); // counted before the caller can see it
            entry.Completion.Hold(result);
            entry.Completion.Release(inline: false);
        }
    }

    /// <inheritdoc />
    public void SetException(int index, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ref readonly var entry = ref Settle(index);
        if (entry.Completion.TryClaim(entry.Generation))
        {
            _counters.AddCompleted(1); // counted before the caller can see it
            _counters.AddFailed(1);
            entry.Completion.Hold(exception);
            entry.Completion.Release(inline: false);
        }
    }

    /// <summary>Forgets the live records (the batch is being recycled), dropping every reference the view held.</summary>
    public void Clear()
    {
        Array.Clear(_live, 0, _liveCount);
        _liveCount = 0;
        _windowStart = 0;
        _windowCount = 0;
        LiveCost = 0;
        _enumerator.Release();
    }

    /// <summary>Enumerates the window's records; the first enumerator is reused (see <see cref="ReusableEnumerator{T}"/>).</summary>
    public IEnumerator<TRecord> GetEnumerator() => _enumerator.Take();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private ref readonly Intake.IntakeItem<TRecord, TResult> Settle(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _windowCount);
        if (Interlocked.Exchange(ref _settled[_windowStart + index], 1) != 0) // exchange: one outcome per record, whichever thread gives it
        {
            throw new InvalidOperationException($"Record {index} of the batch already has an outcome.");
        }

        return ref WindowEntry(index);
    }

    private ref readonly Intake.IntakeItem<TRecord, TResult> WindowEntry(int windowIndex) =>
        ref _batch.Entry(_liveEntry[_windowStart + windowIndex]);
}

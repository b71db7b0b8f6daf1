using System.Collections;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using LowLatencyBatcher.Completion;
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
internal sealed class Batch<TRecord, TResult> : IRecordBatch<TRecord, TResult>, IThreadPoolWorkItem
{
    // How long one resumer may run callers' continuations before it hands the rest to another pool work item, so one
    // batch's callers do not keep a pool thread for long. Checked between continuations: one that blocks still holds
    // up the callers after it in the same batch until it returns (never the workers or the packing thread).
    private static readonly long s_resumeBudgetTicks = Stopwatch.Frequency / 5_000; // 200 µs

    private IntakeItem<TRecord, TResult>[] _entries;
    private TRecord[] _live;
    private int[] _liveEntry;
    private long[] _liveArrival;
    private int[] _settled; // per live record: 1 once it has an outcome from the current call
    private int _windowStart;
    private int _windowCount;
    private readonly BatcherCounters _counters;
    private readonly Enumerator _enumerator;
    private int _entryCount;
    private int _liveCount;

    // Entries whose outcome this batch claimed and holds until the callers are resumed (see ReleaseHeld).
    private int[] _held;
    private int _heldCount;
    private int _released;
    private Action<Batch<TRecord, TResult>>? _afterRelease;

    /// <summary>
    /// Creates an empty batch for up to <paramref name="capacity"/> records; per-record outcomes count into
    /// <paramref name="counters"/>.
    /// </summary>
    public Batch(int capacity, BatcherCounters counters)
    {
        _counters = counters;
        _entries = new IntakeItem<TRecord, TResult>[capacity];
        _live = new TRecord[capacity];
        _liveEntry = new int[capacity];
        _liveArrival = new long[capacity];
        _settled = new int[capacity];
        _held = new int[capacity];
        _enumerator = new Enumerator(this);
    }

    /// <summary>Records the packing thread put in the batch.</summary>
    public int EntryCount => _entryCount;

    /// <summary>Their summed cost.</summary>
    public long EntryCost { get; private set; }

    /// <summary>The cost of the costliest entry.</summary>
    public int MaxEntryCost { get; private set; }

    /// <summary>The rules this batch is packed by (those in force when it was opened).</summary>
    public PackingRules Rules { get; private set; } = null!;

    /// <summary>The batch's cost under its rules' cost model.</summary>
    public long ModelCost => Rules.CostOf(_entryCount, EntryCost, MaxEntryCost);

    /// <summary>Timestamp at which the batch's first record was submitted.</summary>
    public long FirstArrival { get; private set; }

    /// <summary>Why the batch was sent.</summary>
    public DispatchReason Reason { get; set; }

    /// <summary>The cost of the live records under the batch's cost model (after <see cref="ClaimLiveRecords"/>).</summary>
    public long LiveCost { get; private set; }

    /// <summary>The submit timestamps of the live records.</summary>
    public ReadOnlySpan<long> LiveArrivals => _liveArrival.AsSpan(0, _liveCount);

    /// <summary>The number of records the process function sees (the window of the live records).</summary>
    public int Count => _windowCount;

    /// <summary>The record at <paramref name="index"/> of the window.</summary>
    public TRecord this[int index] =>
        (uint)index < (uint)_windowCount ? _live[_windowStart + index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>
    /// Starts filling the batch by <paramref name="rules"/>; its timeout counts from <paramref name="firstArrival"/>
    /// (the packing thread). The buffers grow only when a reconfiguration raised <c>MaxBatchSize</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Open(PackingRules rules, long firstArrival)
    {
        Rules = rules;
        FirstArrival = firstArrival;
        if (_entries.Length < rules.MaxBatchSize)
        {
            _entries = new IntakeItem<TRecord, TResult>[rules.MaxBatchSize];
            _live = new TRecord[rules.MaxBatchSize];
            _liveEntry = new int[rules.MaxBatchSize];
            _liveArrival = new long[rules.MaxBatchSize];
            _settled = new int[rules.MaxBatchSize];
            _held = new int[rules.MaxBatchSize];
        }
    }

    /// <summary>Whether a record of <paramref name="cost"/> may join (rule 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Fits(int cost) => Rules.Fits(_entryCount, EntryCost, MaxEntryCost, cost);

    /// <summary>Why the batch is full, or <see cref="DispatchReason.None"/> (rule 2).</summary>
    public DispatchReason FullReason => Rules.FullReason(_entryCount, EntryCost, MaxEntryCost);

    /// <summary>Adds an entry (the packing thread).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(in IntakeItem<TRecord, TResult> item)
    {
        _entries[_entryCount++] = item;
        EntryCost += item.Cost;
        MaxEntryCost = Math.Max(MaxEntryCost, item.Cost);
    }

    /// <summary>
    /// Claims every entry that is still queued for processing and builds the view of them (the worker that took the
    /// batch). Returns the number of live records; the view's window covers them all.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int ClaimLiveRecords()
    {
        int live = 0;
        long cost = 0;
        int maxCost = 0;
        for (int i = 0; i < _entryCount; i++)
        {
            ref readonly var entry = ref _entries[i];
            if (entry.Completion.TryStartRunning(entry.Generation))
            {
                _live[live] = entry.Record;
                _liveEntry[live] = i;
                _liveArrival[live] = entry.Arrival;
                cost += entry.Cost;
                maxCost = Math.Max(maxCost, entry.Cost);
                live++;
            }
        }

        _liveCount = live;
        LiveCost = Rules.CostOf(live, cost, maxCost);
        SetWindow(0, live);
        return live;
    }

    /// <summary>The number of records claimed by the worker (the window may show fewer).</summary>
    public int LiveCount => _liveCount;

    /// <summary>Shows the process function live records [<paramref name="start"/>, start + count) only, none settled yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>
    /// Gives window record <c>i</c> result <c>i</c>, held until <see cref="ReleaseHeld"/>; returns how many records
    /// this completed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int CompleteWith(IReadOnlyList<TResult> results)
    {
        int completed = 0;
        int i = 0;
        try
        {
            for (; i < _windowCount; i++)
            {
                var result = results[i]; // read before the claim: a throwing indexer leaves the record unclaimed
                int index = _liveEntry[_windowStart + i];
                if (_entries[index].Completion.TryClaim(_entries[index].Generation))
                {
                    _entries[index].Completion.Hold(result);
                    _held[_heldCount++] = index;
                    completed++;
                }
            }
        }
        catch (Exception e)
        {
            // The results list itself failed (a throwing indexer): the records without a result get its exception.
            for (; i < _windowCount; i++)
            {
                completed += ClaimFailure(_liveEntry[_windowStart + i], e);
            }
        }

        return completed;
    }

    /// <summary>Fails every window record without an outcome, held until <see cref="ReleaseHeld"/>; returns how many this completed.</summary>
    public int FailUnsettled(Exception exception)
    {
        int completed = 0;
        for (int i = 0; i < _windowCount; i++)
        {
            if (Interlocked.Exchange(ref _settled[_windowStart + i], 1) == 0)
            {
                completed += ClaimFailure(_liveEntry[_windowStart + i], exception);
            }
        }

        return completed;
    }

    private int ClaimFailure(int index, Exception exception)
    {
        if (!_entries[index].Completion.TryClaim(_entries[index].Generation))
        {
            return 0;
        }

        _entries[index].Completion.Hold(exception);
        _held[_heldCount++] = index;
        return 1;
    }

    /// <summary>
    /// Hands the held outcomes to their callers (the worker, once the batch is counted), then runs
    /// <paramref name="afterRelease"/> (which recycles the batch, or null when an aborted stop took it).
    /// </summary>
    /// <param name="how">
    /// <see cref="CallerResumption.Direct"/>: every outcome is set on this thread and each waiting continuation queued
    /// on its own (a submitter running its own record: no caller waits yet). <see cref="CallerResumption.Queue"/>: one
    /// pool work item, queued to this thread's own queue, runs the callers' continuations in turn — one hop per batch
    /// instead of one per record; a budget bounds how long it runs before it hands the rest to another work item.
    /// </param>
    /// <param name="afterRelease">Runs once every outcome is out.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ReleaseHeld(CallerResumption how, Action<Batch<TRecord, TResult>>? afterRelease)
    {
        if (how == CallerResumption.Direct)
        {
            while (_released < _heldCount)
            {
                _entries[_held[_released++]].Completion.Release(inline: false);
            }
        }

        _afterRelease = afterRelease;
        if (_released == _heldCount)
        {
            afterRelease?.Invoke(this);
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    /// <summary>The pool work item of <see cref="ReleaseHeld"/>.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (ReleaseSome())
        {
            _afterRelease?.Invoke(this);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false); // over budget: the rest on another turn
        }
    }

    /// <summary>Releases held outcomes with inline continuations until all are out (true) or the budget is spent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ReleaseSome()
    {
        long start = Stopwatch.GetTimestamp();
        while (_released < _heldCount)
        {
            ref readonly var entry = ref _entries[_held[_released++]];
            entry.Completion.Release(inline: true);
            if ((_released & 15) == 0 && Stopwatch.GetTimestamp() - start > s_resumeBudgetTicks && _released < _heldCount)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Where the window starts among the live records.</summary>
    public int WindowStart => _windowStart;

    /// <summary>Window records without an outcome yet.</summary>
    public int CountUnsettled()
    {
        int count = 0;
        for (int i = _windowStart; i < _windowStart + _windowCount; i++)
        {
            count += 1 - Volatile.Read(ref _settled[i]);
        }

        return count;
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

    private ref readonly IntakeItem<TRecord, TResult> Settle(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _windowCount);
        if (Interlocked.Exchange(ref _settled[_windowStart + index], 1) != 0)
        {
            throw new InvalidOperationException($"Record {index} of the batch already has an outcome.");
        }

        return ref Entry(index);
    }

    private ref readonly IntakeItem<TRecord, TResult> Entry(int windowIndex) =>
        ref _entries[_liveEntry[_windowStart + windowIndex]];

    /// <summary>
    /// Cancels every entry not completed yet with <paramref name="exception"/>, live or not (an aborted stop, which may
    /// run while a worker uses the batch); each is counted as cancelled.
    /// </summary>
    public void FailAll(Exception exception)
    {
        for (int i = 0; i < _entryCount; i++)
        {
            _entries[i].Completion.TryCancel(_entries[i].Generation, exception);
        }
    }

    /// <summary>Empties the batch for reuse, dropping every reference it held.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Clear()
    {
        Array.Clear(_entries, 0, _entryCount);
        Array.Clear(_live, 0, _liveCount);
        _entryCount = 0;
        _liveCount = 0;
        _windowStart = 0;
        _windowCount = 0;
        _heldCount = 0;
        _released = 0;
        _afterRelease = null;
        EntryCost = 0;
        MaxEntryCost = 0;
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

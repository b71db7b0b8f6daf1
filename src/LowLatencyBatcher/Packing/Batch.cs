using System.Diagnostics;
using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using LowLatencyBatcher.Intake;
using LowLatencyBatcher.Packing.Rules;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// A pooled batch as whoever packs fills it: the entries in the order they joined, their cost under the batch's rules,
/// and why it was sent. It carries the two parts a worker uses later: the <see cref="View"/> the process function
/// sees, and the <see cref="Outcomes"/> held for the callers (which leave with them, see <see cref="HandOverOutcomes"/>).
/// </summary>
/// <remarks>
/// The entries never move once the batch is sealed, so an aborted stop can walk them (<see cref="FailAll"/>) while a
/// worker uses the batch.
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class Batch<TRecord, TResult>
{
    private IntakeItem<TRecord, TResult>[] _entries;
    private int _entryCount;

    /// <summary>
    /// Creates an empty batch for up to <paramref name="capacity"/> records; per-record outcomes count into
    /// <paramref name="counters"/>.
    /// </summary>
    public Batch(int capacity, BatcherCounters counters)
    {
        _entries = new IntakeItem<TRecord, TResult>[capacity];
        View = new RecordView<TRecord, TResult>(this, capacity, counters);
        Outcomes = new HeldOutcomes<TResult>();
    }

    /// <summary>What the process function sees: the live records, once a worker claimed them.</summary>
    public RecordView<TRecord, TResult> View { get; }

    /// <summary>The outcomes claimed for the callers, held until the batch is counted.</summary>
    public HeldOutcomes<TResult> Outcomes { get; private set; }

    /// <summary>Records put in the batch.</summary>
    public int EntryCount => _entryCount;

    /// <summary>Their summed cost.</summary>
    public long EntryCost { get; private set; }

    /// <summary>The cost of the costliest entry.</summary>
    public int MaxEntryCost { get; private set; }

    /// <summary>The rules this batch is packed by (those in force when it was opened).</summary>
    public BatchRules Rules { get; private set; } = null!;

    /// <summary>Timestamp at which the batch's first record was submitted.</summary>
    public long FirstArrival { get; private set; }

    /// <summary>Why the batch was sent.</summary>
    public DispatchReason Reason { get; set; }

    /// <summary>The entry at <paramref name="index"/> (0 to <see cref="EntryCount"/> - 1).</summary>
    public ref readonly IntakeItem<TRecord, TResult> Entry(int index) => ref _entries[index];

    /// <summary>
    /// Starts filling the batch by <paramref name="rules"/>; its timeout counts from <paramref name="firstArrival"/>.
    /// The buffers grow only when a reconfiguration raised <c>MaxBatchSize</c>.
    /// </summary>
    public void Open(BatchRules rules, long firstArrival)
    {
        Rules = rules;
        FirstArrival = firstArrival;
        if (_entries.Length < rules.MaxBatchSize)
        {
            _entries = new IntakeItem<TRecord, TResult>[rules.MaxBatchSize];
            View.EnsureCapacity(rules.MaxBatchSize);
        }
    }

    /// <summary>
    /// Gives the held outcomes to the caller, to resume the callers with, and takes <paramref name="empty"/> in their
    /// place: the batch may then be recycled before its callers are resumed.
    /// </summary>
    public HeldOutcomes<TResult> HandOverOutcomes(HeldOutcomes<TResult> empty)
    {
        Debug.Assert(empty.Count == 0, "the set taken in exchange is empty");
        var held = Outcomes;
        Outcomes = empty;
        return held;
    }

    /// <summary>Whether a record of <paramref name="cost"/> may join (rule 1).</summary>
    public bool Fits(int cost) => Rules.Fits(_entryCount, EntryCost, MaxEntryCost, cost);

    /// <summary>Why the batch is full, or <see cref="DispatchReason.None"/> (rule 2).</summary>
    public DispatchReason FullReason => Rules.FullReason(_entryCount, EntryCost, MaxEntryCost);

    /// <summary>Adds an entry (whoever holds the packing token).</summary>
    public void Add(in IntakeItem<TRecord, TResult> item)
    {
        Debug.Assert(_entryCount < Rules.MaxBatchSize, "a full batch takes no more records (rule 2)");
        _entries[_entryCount++] = item;
        EntryCost += item.Cost;
        MaxEntryCost = Math.Max(MaxEntryCost, item.Cost);
    }

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
    public void Clear()
    {
        Array.Clear(_entries, 0, _entryCount);
        _entryCount = 0;
        EntryCost = 0;
        MaxEntryCost = 0;
        FirstArrival = 0;
        Reason = DispatchReason.None;
        View.Clear();
        Outcomes.Clear();
    }
}

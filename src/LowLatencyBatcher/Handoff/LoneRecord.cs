using System.Collections;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// What a list-shaped process function sees of a lone record that the idle fast path runs without a batch: a list of
/// one. Each worker keeps one and reuses it for every lone record run in its name (one at a time: the worker stays
/// borrowed until the call completes).
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
internal sealed class LoneRecord<TRecord> : IReadOnlyList<TRecord>
{
    private readonly ReusableEnumerator<TRecord> _enumerator;
    private TRecord _record = default!;

    /// <summary>Creates an empty list, to be filled by <see cref="Show"/>.</summary>
    public LoneRecord() => _enumerator = new ReusableEnumerator<TRecord>(this);

    /// <summary>Always 1.</summary>
    public int Count => 1;

    /// <summary>The record (index 0).</summary>
    public TRecord this[int index] => index == 0 ? _record : ThrowHelper.IndexOutOfRange<TRecord>(index, 1);

    /// <summary>Shows <paramref name="record"/> to the next call.</summary>
    public void Show(TRecord record) => _record = record;

    /// <summary>Forgets the record once its call completed, so the worker holds no reference to it.</summary>
    public void Clear()
    {
        _record = default!;
        _enumerator.Release();
    }

    /// <summary>Enumerates the record; the first enumerator is reused (see <see cref="ReusableEnumerator{T}"/>).</summary>
    public IEnumerator<TRecord> GetEnumerator() => _enumerator.Take();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

using System.Collections;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// An enumerator over a pooled list that the list hands out again and again, so a process function that enumerates
/// its batch allocates nothing. One user at a time: the list hands out a new enumerator while this one is in use.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class ReusableEnumerator<T>(IReadOnlyList<T> list) : IEnumerator<T>
{
    private int _index = -1;
    private int _inUse;

    /// <inheritdoc />
    public T Current => list[_index];

    object? IEnumerator.Current => Current;

    /// <summary>
    /// This enumerator, taken for a new enumeration; a new one, already taken, while another enumeration uses this one
    /// (the list's <c>GetEnumerator</c>).
    /// </summary>
    public IEnumerator<T> Take() => TryAcquire() ? this : new ReusableEnumerator<T>(list) { _inUse = 1 };

    private bool TryAcquire()
    {
        if (Interlocked.Exchange(ref _inUse, 1) != 0) // exchange: one user of the reusable enumerator at a time
        {
            return false;
        }

        _index = -1;
        return true;
    }

    /// <summary>Ends the current use (the list was recycled, or its user disposed the enumerator).</summary>
    public void Release() => Volatile.Write(ref _inUse, 0); // release: the enumerator's use is over before it is reused

    /// <inheritdoc />
    public bool MoveNext() => ++_index < list.Count;

    /// <inheritdoc />
    public void Reset() => _index = -1;

    /// <inheritdoc />
    public void Dispose() => Release();
}

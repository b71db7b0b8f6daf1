namespace LowLatencyBatcher;

/// <summary>
/// The batcher's current configuration, shared by the submit path and the packing thread. A reconfiguration swaps the
/// whole immutable object, so a reader always sees one consistent configuration; the packing thread reads it when it
/// opens a batch, so a change applies from the next batch.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
internal sealed class LiveSettings<TRecord>(BatcherSettings<TRecord> initial)
{
    private volatile BatcherSettings<TRecord> _current = initial;

    /// <summary>The configuration in force.</summary>
    public BatcherSettings<TRecord> Current
    {
        get => _current;
        set => _current = value;
    }
}

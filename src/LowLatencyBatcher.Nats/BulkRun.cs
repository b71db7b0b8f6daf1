namespace LowLatencyBatcher.Nats;

/// <summary>
/// A bulk run: enumerating it publishes the records to the durable work queue and yields each record's outcome as it
/// arrives, exactly once per record, in no particular order; the enumeration ends when every record has its outcome.
/// Its counters say how it went (a result that arrives again for a record already answered, after a redelivery, is
/// counted in <see cref="Duplicates"/> and not yielded).
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public sealed class BulkRun<TRecord, TResult> : IAsyncEnumerable<BulkResult<TResult>>
{
    private readonly BatcherClient<TRecord, TResult> _client;
    private readonly IEnumerable<TRecord> _records;
    private int _enumerated;
    private long _published, _received, _redelivered, _duplicates, _failed, _total = -1;

    internal BulkRun(BatcherClient<TRecord, TResult> client, IEnumerable<TRecord> records)
    {
        _client = client;
        _records = records;
        JobId = Guid.NewGuid().ToString("N");
    }

    /// <summary>The run's id: its records and results carry it in the <see cref="WireHeaders.Job"/> header.</summary>
    public string JobId { get; }

    /// <summary>Records published and confirmed by the work-queue stream so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>The number of records, once all were published; null before.</summary>
    public long? Total => Interlocked.Read(ref _total) is >= 0 and var total ? total : null;

    /// <summary>Records with an outcome (each counted once).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Records whose outcome came from a second or later delivery (their first worker died or was too slow).</summary>
    public long Redelivered => Interlocked.Read(ref _redelivered);

    /// <summary>Outcomes that arrived for records already answered (at-least-once delivery), recognised by index and dropped.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Records whose outcome is an error.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Starts the run; a run can be enumerated once.</summary>
    /// <param name="cancellationToken">Ends the run: publishing stops, and results are no longer awaited.</param>
    /// <returns>The outcomes as they arrive.</returns>
    /// <exception cref="InvalidOperationException">The run was enumerated before.</exception>
    public IAsyncEnumerator<BulkResult<TResult>> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
        {
            throw new InvalidOperationException("A bulk run can be enumerated once; start another with SubmitBulk.");
        }

        return _client.RunBulkAsync(this, _records, cancellationToken).GetAsyncEnumerator(cancellationToken);
    }

    internal void AddPublished() => Interlocked.Increment(ref _published);

    internal void SetTotal(long total) => Interlocked.Exchange(ref _total, total);

    internal void AddReceived(bool redelivered, bool failed)
    {
        Interlocked.Increment(ref _received);
        if (redelivered)
        {
            Interlocked.Increment(ref _redelivered);
        }

        if (failed)
        {
            Interlocked.Increment(ref _failed);
        }
    }

    internal void AddDuplicate() => Interlocked.Increment(ref _duplicates);
}

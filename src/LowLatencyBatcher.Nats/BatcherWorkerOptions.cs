namespace LowLatencyBatcher.Nats;

/// <summary>Options of a <see cref="BatcherWorker{TRecord, TResult}"/>.</summary>
public sealed class BatcherWorkerOptions : NatsBatcherOptions
{
    /// <summary>Whether the worker answers online requests (request-reply, one worker of the queue group each). Default true.</summary>
    public bool Online { get; set; } = true;

    /// <summary>Whether the worker takes records from the durable work queue. Default true.</summary>
    public bool Durable { get; set; } = true;

    /// <summary>
    /// The most durable records this worker holds at once (fetched, not yet acknowledged). It fetches only as many
    /// as it has room for, so records wait in the stream, where any worker can take them, rather than here. Keep it
    /// at or below the batcher's <c>MaxQueueSize</c>. Default 256.
    /// </summary>
    public int MaxInFlight { get; set; } = 256;

    /// <summary>The most records one fetch asks for (it asks for fewer when it has less room). Default 64.</summary>
    public int FetchBatch { get; set; } = 64;

    /// <summary>How long one fetch waits for records when the queue is empty. Default 1 second.</summary>
    public TimeSpan FetchExpiry { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a fetched record may stay unacknowledged before the server hands it to another worker (the time to
    /// notice a dead worker). Must exceed the slowest record's time in the batcher. Default 30 seconds.
    /// </summary>
    public TimeSpan AckWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The delivery at which a record is given up: it is not processed again but answered with an error and
    /// dead-lettered (a record that kills every worker it reaches does not kill them all). Default 5.
    /// </summary>
    public int MaxDeliver { get; set; } = 5;

    /// <summary>This worker's name in results and logs. Default: the machine name and the process id.</summary>
    public string? WorkerId { get; set; }

    /// <summary>How long a stop waits for records in flight to be answered. Default 30 seconds.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(base.Validate());
        if (!Online && !Durable)
        {
            errors.Add("Online and Durable are both false: the worker would take no records; enable at least one.");
        }

        CheckRange(errors, nameof(MaxInFlight), MaxInFlight, 1, 1_000_000);
        CheckRange(errors, nameof(FetchBatch), FetchBatch, 1, 10_000);
        CheckRange(errors, nameof(FetchExpiry), FetchExpiry, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        CheckRange(errors, nameof(AckWait), AckWait, TimeSpan.FromSeconds(1), TimeSpan.FromHours(12));
        CheckRange(errors, nameof(MaxDeliver), MaxDeliver, 2, 1_000);
        CheckRange(errors, nameof(DrainTimeout), DrainTimeout, TimeSpan.Zero, TimeSpan.FromHours(1));
        if (WorkerId is { } id && (id.Length is 0 or > 128 || id.Any(char.IsControl)))
        {
            errors.Add($"WorkerId must be 1 to 128 printable characters; it is '{id}'.");
        }

        return errors;
    }
}

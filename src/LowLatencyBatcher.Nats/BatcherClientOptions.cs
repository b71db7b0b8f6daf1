namespace LowLatencyBatcher.Nats;

/// <summary>Options of a <see cref="BatcherClient{TRecord, TResult}"/>.</summary>
public sealed class BatcherClientOptions : NatsBatcherOptions
{
    /// <summary>The longest an online submit takes, retries included; then it throws <see cref="TimeoutException"/>. Default 30 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one online attempt waits for a reply before it counts as no reply. Default 5 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many times an online submit is tried again after a "busy" answer or no reply. Default 10.</summary>
    public int MaxRetries { get; set; } = 10;

    /// <summary>The wait before the first retry; each further retry waits twice as long, up to <see cref="MaxRetryDelay"/>. Default 10 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>The longest wait between retries. Default 1 second.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many bulk records may be published and not yet confirmed by the stream at once. Default 256.</summary>
    public int MaxPendingPublishes { get; set; } = 256;

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(base.Validate());
        CheckRange(errors, nameof(Timeout), Timeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24));
        CheckRange(errors, nameof(RequestTimeout), RequestTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1));
        CheckRange(errors, nameof(MaxRetries), MaxRetries, 0, 1_000);
        CheckRange(errors, nameof(RetryDelay), RetryDelay, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        CheckRange(errors, nameof(MaxRetryDelay), MaxRetryDelay, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        if (MaxRetryDelay < RetryDelay)
        {
            errors.Add($"MaxRetryDelay ({MaxRetryDelay}) must not be shorter than RetryDelay ({RetryDelay}).");
        }

        CheckRange(errors, nameof(MaxPendingPublishes), MaxPendingPublishes, 1, 100_000);
        return errors;
    }
}

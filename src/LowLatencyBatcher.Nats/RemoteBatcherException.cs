namespace LowLatencyBatcher.Nats;

/// <summary>A record's failure as a worker reported it: its batch failed, or the worker could not read the record.</summary>
public sealed class RemoteBatcherException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The worker's message.</param>
    /// <param name="status">The reply's status (<see cref="WireHeaders.StatusError"/> or <see cref="WireHeaders.StatusBadRequest"/>).</param>
    /// <param name="workerId">The worker that answered, when known.</param>
    public RemoteBatcherException(string message, string status, string? workerId)
        : base(message)
    {
        Status = status;
        WorkerId = workerId;
    }

    /// <summary>The reply's status (<see cref="WireHeaders.StatusError"/> or <see cref="WireHeaders.StatusBadRequest"/>).</summary>
    public string Status { get; }

    /// <summary>True when the worker could not read the record (a codec mismatch or a malformed message): retrying will not help.</summary>
    public bool IsBadRequest => Status == WireHeaders.StatusBadRequest;

    /// <summary>The worker that answered, when known.</summary>
    public string? WorkerId { get; }
}

namespace LowLatencyBatcher.Nats;

/// <summary>One record's outcome in a bulk run.</summary>
/// <typeparam name="TResult">The result type.</typeparam>
/// <param name="Index">The record's position in the records given to the run (0 for the first).</param>
/// <param name="Value">The result, when <paramref name="Error"/> is null.</param>
/// <param name="Error">Why the record failed (<see cref="RemoteBatcherException"/>, or <see cref="FormatException"/> when the result could not be read).</param>
/// <param name="WorkerId">The worker that answered.</param>
/// <param name="Delivery">Which delivery of the record produced this outcome (1 for the first; more after a worker died).</param>
public readonly record struct BulkResult<TResult>(long Index, TResult? Value, Exception? Error, string? WorkerId, int Delivery)
{
    /// <summary>True when the record has a result.</summary>
    public bool IsSuccess => Error is null;
}

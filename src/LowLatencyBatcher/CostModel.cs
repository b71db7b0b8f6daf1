namespace LowLatencyBatcher;

/// <summary>How the cost of a batch follows from the costs of its records.</summary>
public enum CostModel
{
    /// <summary>The sum of the records' costs (plus <c>PerBatchCost</c>): right when padding is free or absent.</summary>
    Sum,

    /// <summary>
    /// The costliest record's cost times the number of records (plus <c>PerBatchCost</c>): what a padded tensor of
    /// token ids really holds, so a long record makes the whole batch costly.
    /// </summary>
    Padded,
}

/// <summary>What a submit does when <c>MaxQueueSize</c> records already wait.</summary>
public enum QueueFullMode
{
    /// <summary><c>SubmitAsync</c> waits asynchronously for room (backpressure).</summary>
    Wait,

    /// <summary><c>SubmitAsync</c> throws <see cref="QueueFullException"/> at once: what a server answering 503 wants.</summary>
    Reject,
}

/// <summary>Thrown by a submit when the queue is full and the batcher's <see cref="QueueFullMode"/> is <see cref="QueueFullMode.Reject"/>.</summary>
public sealed class QueueFullException : InvalidOperationException
{
    /// <summary>Creates the exception for a queue that holds <paramref name="maxQueueSize"/> records.</summary>
    public QueueFullException(int maxQueueSize)
        : base($"The batcher's queue is full ({maxQueueSize} records wait); the record was not accepted.") =>
        MaxQueueSize = maxQueueSize;

    /// <summary>The queue's limit.</summary>
    public int MaxQueueSize { get; }
}

namespace LowLatencyBatcher;

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

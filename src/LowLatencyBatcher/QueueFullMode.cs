namespace LowLatencyBatcher;

/// <summary>What a submit does when <c>MaxQueueSize</c> records already wait.</summary>
public enum QueueFullMode
{
    /// <summary><c>SubmitAsync</c> waits asynchronously for room (backpressure).</summary>
    Wait,

    /// <summary><c>SubmitAsync</c> throws <see cref="QueueFullException"/> at once: what a server answering 503 wants.</summary>
    Reject,
}

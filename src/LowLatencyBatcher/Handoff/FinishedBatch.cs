using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// A batch whose process calls are over, waiting for its report and the release of its callers.
/// </summary>
/// <param name="Batch">The batch; null when nothing ran (every record had been cancelled, or a stop was aborted).</param>
/// <param name="Error">The first exception a call gave, or null.</param>
/// <param name="Started">When the batch started, on the batcher's clock.</param>
/// <param name="Ended">When its last call ended.</param>
/// <param name="Recycle">Returns the batch to the pool once its callers are resumed; null when an aborted stop took it.</param>
internal readonly record struct FinishedBatch<TRecord, TResult>(
    Batch<TRecord, TResult>? Batch, Exception? Error, long Started, long Ended, Action<Batch<TRecord, TResult>>? Recycle);

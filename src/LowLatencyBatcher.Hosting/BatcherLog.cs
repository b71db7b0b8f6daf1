using Microsoft.Extensions.Logging;

namespace LowLatencyBatcher.Hosting;

/// <summary>The event ids of the hosting layer's log messages (category <c>LowLatencyBatcher.Hosting</c>).</summary>
public static class BatcherEventIds
{
    /// <summary>A batcher started (Information).</summary>
    public static readonly EventId Started = new(1, "BatcherStarted");

    /// <summary>A batcher stopped accepting records and began to drain (Information).</summary>
    public static readonly EventId Stopping = new(2, "BatcherStopping");

    /// <summary>A batcher drained everything it had accepted and stopped (Information).</summary>
    public static readonly EventId Stopped = new(3, "BatcherStopped");

    /// <summary>A batch failed: every record of it got the exception (Error).</summary>
    public static readonly EventId BatchFailed = new(4, "BatchFailed");

    /// <summary>The drain did not finish within the host's shutdown timeout; the unfinished records were cancelled (Warning).</summary>
    public static readonly EventId DrainTimedOut = new(5, "DrainTimedOut");

    /// <summary>The options changed and the batcher took the new values from its next batch (Information).</summary>
    public static readonly EventId Reconfigured = new(6, "BatcherReconfigured");

    /// <summary>The options changed to values that break a rule; the batcher kept its configuration (Error).</summary>
    public static readonly EventId ReconfigurationRefused = new(7, "BatcherReconfigurationRefused");

    /// <summary>
    /// The options changed in a way that only a restart can apply (queue, prefetch, workers, pinning, lanes, buckets);
    /// the batcher keeps the values it was created with (Warning).
    /// </summary>
    public static readonly EventId RestartRequired = new(8, "BatcherRestartRequired");
}

/// <summary>The log messages, generated for speed and pinned to <see cref="BatcherEventIds"/>.</summary>
internal static partial class BatcherLog
{
    /// <summary>The category every message of the hosting layer is logged under.</summary>
    public const string Category = "LowLatencyBatcher.Hosting";

    [LoggerMessage(EventId = 1, EventName = "BatcherStarted", Level = LogLevel.Information,
        Message = "Batcher {BatcherName} started: target cost {TargetCost}, batch size {MinBatchSize}..{MaxBatchSize}, timeout {BatchTimeout}, queue {MaxQueueSize}, {Workers} worker(s)")]
    public static partial void Started(
        ILogger logger, string batcherName, int targetCost, int minBatchSize, int maxBatchSize, TimeSpan batchTimeout, int maxQueueSize, int workers);

    [LoggerMessage(EventId = 2, EventName = "BatcherStopping", Level = LogLevel.Information,
        Message = "Batcher {BatcherName} is stopping: it accepts no more records and drains {InFlight} unfinished record(s), {QueueDepth} of them queued")]
    public static partial void Stopping(ILogger logger, string batcherName, long inFlight, long queueDepth);

    [LoggerMessage(EventId = 3, EventName = "BatcherStopped", Level = LogLevel.Information,
        Message = "Batcher {BatcherName} stopped: {Batches} batch(es) ({BatchReasons}), {Completed} record(s) completed, {Failed} failed, {Cancelled} cancelled, {TimedOut} timed out, utilization {Utilization:P1}")]
    public static partial void Stopped(
        ILogger logger, string batcherName, long batches, string batchReasons, long completed, long failed, long cancelled, long timedOut, double utilization);

    [LoggerMessage(EventId = 4, EventName = "BatchFailed", Level = LogLevel.Error,
        Message = "Batcher {BatcherName}: a batch of {Records} record(s) (cost {Cost}) failed after {DurationMs:F1} ms; each of its records got the exception")]
    public static partial void BatchFailed(ILogger logger, Exception error, string batcherName, int records, long cost, double durationMs);

    [LoggerMessage(EventId = 5, EventName = "DrainTimedOut", Level = LogLevel.Warning,
        Message = "Batcher {BatcherName} did not drain within the shutdown timeout: {Cancelled} unfinished record(s) completed with OperationCanceledException")]
    public static partial void DrainTimedOut(ILogger logger, string batcherName, long cancelled);

    [LoggerMessage(EventId = 6, EventName = "BatcherReconfigured", Level = LogLevel.Information,
        Message = "Batcher {BatcherName} reconfigured from its next batch: {Changes}")]
    public static partial void Reconfigured(ILogger logger, string batcherName, string changes);

    [LoggerMessage(EventId = 7, EventName = "BatcherReconfigurationRefused", Level = LogLevel.Error,
        Message = "Batcher {BatcherName} refused its changed options and keeps running with the previous ones: {Reason}")]
    public static partial void ReconfigurationRefused(ILogger logger, string batcherName, string reason);

    [LoggerMessage(EventId = 8, EventName = "BatcherRestartRequired", Level = LogLevel.Warning,
        Message = "Batcher {BatcherName} can only take these changes at its next start, and keeps its current values until then: {Changes}")]
    public static partial void RestartRequired(ILogger logger, string batcherName, string changes);

    /// <summary>Puts an exception message (which may span lines, as ArgumentOutOfRangeException's do) on one line.</summary>
    public static string OneLine(string message) => message.ReplaceLineEndings(" ");
}

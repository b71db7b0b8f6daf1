using Microsoft.Extensions.Logging;

namespace LowLatencyBatcher.Hosting;

/// <summary>The observer a registered batcher gets: its metrics, and a <see cref="BatcherEventIds.BatchFailed"/> log entry per failed batch.</summary>
internal sealed class HostedBatchObserver(BatcherMetrics metrics, ILogger logger) : IBatchObserver
{
    public void OnBatchCompleted(in BatchReport report)
    {
        metrics.OnBatchCompleted(report);
        if (report.Error is { } error)
        {
            BatcherLog.BatchFailed(logger, error, metrics.BatcherName, report.Records, report.Cost, report.Duration.TotalMilliseconds);
        }
    }
}

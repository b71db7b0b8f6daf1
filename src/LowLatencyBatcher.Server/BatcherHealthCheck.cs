using LowLatencyBatcher.Torch;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LowLatencyBatcher.Server;

/// <summary>Healthy while the batcher accepts records; unhealthy before it started and once it began to stop.</summary>
internal sealed class BatcherHealthCheck(TokenBatcher<TokenSequence, float[]> batcher) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        BatchStats stats = batcher.Stats;
        var data = new Dictionary<string, object>
        {
            ["queueDepth"] = stats.QueueDepth,
            ["submitted"] = stats.TotalSubmitted,
            ["completed"] = stats.TotalCompleted,
        };
        return Task.FromResult(batcher.IsRunning
            ? HealthCheckResult.Healthy("The batcher is running.", data)
            : HealthCheckResult.Unhealthy("The batcher is not accepting records.", data: data));
    }
}

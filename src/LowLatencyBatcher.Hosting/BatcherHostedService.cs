using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// Starts a registered batcher with the host and, when the host shuts down, stops it: the batcher refuses new
/// records at once and drains what it accepted. The drain gets what is left of the host's shutdown timeout; when
/// that token fires, the records not finished yet complete with <see cref="OperationCanceledException"/>, a
/// <see cref="BatcherEventIds.DrainTimedOut"/> warning is logged, and the shutdown goes on.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class BatcherHostedService<TRecord, TResult> : IHostedService
{
    private readonly DynamicBatcher<TRecord, TResult> _batcher;
    private readonly BatcherRegistration _registration;
    private readonly BatcherOptions _options;
    private readonly ILogger _logger;

    public BatcherHostedService(
        DynamicBatcher<TRecord, TResult> batcher, BatcherRegistration registration, BatcherOptions options, ILoggerFactory loggerFactory)
    {
        _batcher = batcher;
        _registration = registration;
        _options = options;
        _logger = loggerFactory.CreateLogger(BatcherLog.Category);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _batcher.StartAsync(cancellationToken).ConfigureAwait(false);
        BatcherLog.Started(
            _logger,
            _registration.Name,
            _options.TargetBatchTokens ?? _options.TargetBatchCost,
            _options.MinBatchSize,
            _options.MaxBatchSize,
            _options.BatchTimeout,
            _options.MaxQueueSize,
            _options.Workers);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        bool wasRunning = _batcher.IsRunning; // false: never started, or another caller is stopping it (then this joins its drain)
        BatchStats before = _batcher.Stats;
        if (wasRunning)
        {
            BatcherLog.Stopping(_logger, _registration.Name, before.TotalSubmitted - before.TotalCompleted, before.QueueDepth);
        }

        try
        {
            await _batcher.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            BatchStats after = _batcher.Stats;
            BatcherLog.DrainTimedOut(_logger, _registration.Name, after.TotalCancelled - before.TotalCancelled);
            return;
        }

        if (!wasRunning)
        {
            return;
        }

        BatchStats stats = _batcher.Stats;
        BatcherLog.Stopped(
            _logger, _registration.Name, stats.TotalBatches, stats.TotalCompleted, stats.TotalFailed, stats.TotalCancelled, stats.Utilization);
    }
}

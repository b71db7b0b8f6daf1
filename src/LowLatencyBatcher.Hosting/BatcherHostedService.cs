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
    private readonly HostedBatcher<TRecord, TResult> _hosted;
    private readonly DynamicBatcher<TRecord, TResult> _batcher;
    private readonly BatcherRegistration _registration;
    private readonly ILogger _logger;

    public BatcherHostedService(HostedBatcher<TRecord, TResult> hosted, BatcherRegistration registration, ILoggerFactory loggerFactory)
    {
        _hosted = hosted;
        _batcher = hosted.Batcher;
        _registration = registration;
        _logger = loggerFactory.CreateLogger(BatcherLog.Category);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _batcher.StartAsync(cancellationToken).ConfigureAwait(false);
        BatcherOptions options = _hosted.Current;
        BatcherLog.Started(
            _logger,
            _registration.Name,
            options.TargetBatchTokens ?? options.TargetBatchCost,
            options.MinBatchSize,
            options.MaxBatchSize,
            options.BatchTimeout,
            options.MaxQueueSize,
            options.Workers);
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
            _logger,
            _registration.Name,
            stats.TotalBatches,
            BatchReasons(stats),
            stats.TotalCompleted,
            stats.TotalFailed,
            stats.TotalCancelled,
            stats.TotalTimedOut,
            stats.Utilization);
    }

    /// <summary>The batch counts by why the batches were sent, for example <c>full 0, budget 2, size 10, …</c>.</summary>
    internal static string BatchReasons(in BatchStats stats) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"full {stats.FullBatches}, budget {stats.BudgetBatches}, size {stats.SizeBatches}, eager {stats.EagerBatches}, timeout {stats.TimeoutBatches}, shutdown {stats.ShutdownBatches}");
}

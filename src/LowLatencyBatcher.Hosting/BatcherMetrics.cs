using System.Diagnostics.Metrics;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// Publishes a batcher's metrics on the <see cref="Meter"/> named <see cref="MeterName"/>: per-batch and per-record
/// histograms from the <see cref="IBatchObserver"/> reports, and observable instruments over
/// <see cref="DynamicBatcher{TRecord, TResult}.Stats"/>. Every measurement carries the tag
/// <see cref="BatcherNameTag"/>. The instruments are listed in <c>docs/serving.md</c>.
/// </summary>
/// <remarks>
/// The hosting extensions create one per registered batcher. Without dependency injection: create it, pass it as
/// <see cref="DynamicBatcherOptions{TRecord}.Observer"/>, then call <see cref="Observe(Func{BatchStats})"/> with the
/// batcher's statistics.
/// </remarks>
public sealed class BatcherMetrics : IBatchObserver, IDisposable
{
    /// <summary>The name of the meter: <c>LowLatencyBatcher</c>.</summary>
    public const string MeterName = "LowLatencyBatcher";

    /// <summary>The tag that names the batcher on every measurement.</summary>
    public const string BatcherNameTag = "batcher.name";

    /// <summary>
    /// The tag of <c>lowlatencybatcher.records.completed</c>: <c>succeeded</c>, <c>failed</c>, <c>cancelled</c> or
    /// <c>timed_out</c>.
    /// </summary>
    public const string OutcomeTag = "lowlatencybatcher.outcome";

    /// <summary>The tag of the per-batch instruments that says why the batch was sent (<see cref="DispatchReason"/>, lower case).</summary>
    public const string DispatchReasonTag = "lowlatencybatcher.dispatch.reason";

    /// <summary>The tag of the per-batch instruments that names the exception type of a failed batch (OpenTelemetry's <c>error.type</c>).</summary>
    public const string ErrorTypeTag = "error.type";

    // Batch sizes and costs grow in powers of two; latencies span 100 µs to 10 s.
    private static readonly IReadOnlyList<int> SizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
    private static readonly IReadOnlyList<long> CostBuckets = [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];
    private static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly string[] ReasonNames =
        Enum.GetValues<DispatchReason>().Select(reason => reason.ToString().ToLowerInvariant()).ToArray();

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly TimeProvider _timeProvider;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly KeyValuePair<string, object?>[] _succeededTags;
    private readonly KeyValuePair<string, object?>[] _failedTags;
    private readonly KeyValuePair<string, object?>[] _cancelledTags;
    private readonly KeyValuePair<string, object?>[] _timedOutTags;
    private readonly Counter<long> _batches;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<long> _batchCost;
    private readonly Histogram<double> _batchDuration;
    private readonly Histogram<double> _recordDuration;
    private volatile Func<BatchStats>? _stats;

    /// <summary>Creates the instruments.</summary>
    /// <param name="batcherName">The value of the <see cref="BatcherNameTag"/> tag.</param>
    /// <param name="meterFactory">Creates the meter (it then owns it); null creates a meter that this object owns.</param>
    /// <param name="timeProvider">The batcher's clock, which stamped the reports' timestamps; null for <see cref="TimeProvider.System"/>.</param>
    public BatcherMetrics(string batcherName, IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(batcherName);
        BatcherName = batcherName;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _nameTag = new(BatcherNameTag, batcherName);
        _succeededTags = [_nameTag, new(OutcomeTag, "succeeded")];
        _failedTags = [_nameTag, new(OutcomeTag, "failed")];
        _cancelledTags = [_nameTag, new(OutcomeTag, "cancelled")];
        _timedOutTags = [_nameTag, new(OutcomeTag, "timed_out")];

        _batches = _meter.CreateCounter<long>(
            "lowlatencybatcher.batches", "{batch}", "Batches the process function ran.");
        _batchSize = _meter.CreateHistogram(
            "lowlatencybatcher.batch.size", "{record}", "Records per batch.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = SizeBuckets });
        _batchCost = _meter.CreateHistogram(
            "lowlatencybatcher.batch.cost", "{cost}", "Summed cost (tokens, for a token batcher) per batch.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = CostBuckets });
        _batchDuration = _meter.CreateHistogram(
            "lowlatencybatcher.batch.duration", "s", "Time a batch spent inside the process function.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _recordDuration = _meter.CreateHistogram(
            "lowlatencybatcher.record.duration", "s", "Time from a record's submit to its result.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

        _meter.CreateObservableUpDownCounter(
            "lowlatencybatcher.queue.depth", ObserveQueueDepth, "{record}",
            "Records accepted but not yet taken by the packing thread.");
        _meter.CreateObservableCounter(
            "lowlatencybatcher.records.submitted", ObserveSubmitted, "{record}", "Records accepted by a submit.");
        _meter.CreateObservableCounter(
            "lowlatencybatcher.records.completed", ObserveCompleted, "{record}",
            "Records whose task finished, by outcome (succeeded; failed with their batch's exception; cancelled; " +
            "timed_out before a worker took them).");
        _meter.CreateObservableCounter(
            "lowlatencybatcher.records.rejected", ObserveRejected, "{record}",
            "Submits refused at once because the queue was full (QueueFullMode.Reject); never accepted.");
        _meter.CreateObservableGauge(
            "lowlatencybatcher.utilization", ObserveUtilization, "1",
            "Share of the running time during which at least one worker was inside the process function.");
    }

    /// <summary>The value of the <see cref="BatcherNameTag"/> tag.</summary>
    public string BatcherName { get; }

    /// <summary>Feeds the observable instruments (queue depth, record counts, utilization) from <paramref name="stats"/>.</summary>
    /// <param name="stats">Returns a snapshot of the batcher's statistics; typically <c>() =&gt; batcher.Stats</c>.</param>
    public void Observe(Func<BatchStats> stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        _stats = stats;
    }

    /// <summary>Feeds the observable instruments from <paramref name="batcher"/>'s statistics.</summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="batcher">The batcher these metrics describe.</param>
    public void Observe<TRecord, TResult>(DynamicBatcher<TRecord, TResult> batcher)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        Observe(() => batcher.Stats);
    }

    /// <inheritdoc />
    public void OnBatchCompleted(in BatchReport report)
    {
        var reason = new KeyValuePair<string, object?>(DispatchReasonTag, ReasonName(report.Reason));
        if (report.Error is null)
        {
            _batches.Add(1, _nameTag, reason);
            _batchDuration.Record(report.Duration.TotalSeconds, _nameTag, reason);
        }
        else
        {
            var error = new KeyValuePair<string, object?>(ErrorTypeTag, report.Error.GetType().FullName);
            _batches.Add(1, _nameTag, reason, error);
            _batchDuration.Record(report.Duration.TotalSeconds, _nameTag, reason, error);
        }

        _batchSize.Record(report.Records, _nameTag);
        _batchCost.Record(report.Cost, _nameTag);
        if (_recordDuration.Enabled)
        {
            var submitted = report.SubmitTimestamps;
            for (int i = 0; i < submitted.Length; i++)
            {
                _recordDuration.Record(report.LatencyOf(i, _timeProvider).TotalSeconds, _nameTag);
            }
        }
    }

    /// <summary>Disposes the meter when this object created it (not when a meter factory did).</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static string ReasonName(DispatchReason reason) =>
        (uint)reason < (uint)ReasonNames.Length ? ReasonNames[(int)reason] : reason.ToString().ToLowerInvariant();

    private IEnumerable<Measurement<long>> ObserveQueueDepth()
    {
        if (_stats is { } stats)
        {
            yield return new Measurement<long>(stats().QueueDepth, _nameTag);
        }
    }

    private IEnumerable<Measurement<long>> ObserveSubmitted()
    {
        if (_stats is { } stats)
        {
            yield return new Measurement<long>(stats().TotalSubmitted, _nameTag);
        }
    }

    private IEnumerable<Measurement<long>> ObserveRejected()
    {
        if (_stats is { } stats)
        {
            yield return new Measurement<long>(stats().TotalRejected, _nameTag);
        }
    }

    private IEnumerable<Measurement<long>> ObserveCompleted()
    {
        if (_stats is { } stats)
        {
            BatchStats snapshot = stats();
            long succeeded = snapshot.TotalCompleted - snapshot.TotalFailed - snapshot.TotalCancelled - snapshot.TotalTimedOut;
            yield return new Measurement<long>(Math.Max(0, succeeded), _succeededTags);
            yield return new Measurement<long>(snapshot.TotalFailed, _failedTags);
            yield return new Measurement<long>(snapshot.TotalCancelled, _cancelledTags);
            yield return new Measurement<long>(snapshot.TotalTimedOut, _timedOutTags);
        }
    }

    private IEnumerable<Measurement<double>> ObserveUtilization()
    {
        if (_stats is { } stats)
        {
            yield return new Measurement<double>(stats().Utilization, _nameTag);
        }
    }
}

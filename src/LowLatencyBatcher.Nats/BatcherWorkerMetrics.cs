using System.Diagnostics.Metrics;

namespace LowLatencyBatcher.Nats;

/// <summary>
/// Publishes a worker's counts on the <see cref="Meter"/> named <see cref="MeterName"/>, tagged with
/// <see cref="WorkerTag"/>. The batcher behind the worker keeps its own metrics (the hosting package's
/// <c>LowLatencyBatcher</c> meter), exactly as in-process.
/// </summary>
public sealed class BatcherWorkerMetrics : IDisposable
{
    /// <summary>The name of the meter: <c>LowLatencyBatcher.Nats</c>.</summary>
    public const string MeterName = "LowLatencyBatcher.Nats";

    /// <summary>The tag that names the worker on every measurement.</summary>
    public const string WorkerTag = "lowlatencybatcher.worker";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    /// <summary>Creates the instruments over <paramref name="counts"/>.</summary>
    /// <param name="workerId">The worker's name (the tag's value).</param>
    /// <param name="counts">Reads the worker's counts.</param>
    /// <param name="meterFactory">Creates the meter (from dependency injection); when null the meter is created and disposed here.</param>
    public BatcherWorkerMetrics(string workerId, Func<WorkerCounts> counts, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(counts);
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        var tag = new KeyValuePair<string, object?>(WorkerTag, workerId);
        Observe("lowlatencybatcher.worker.online_requests", "{request}", "Online requests received.", () => counts().OnlineRequests, tag);
        Observe("lowlatencybatcher.worker.busy", "{request}", "Online requests answered busy.", () => counts().Busy, tag);
        Observe("lowlatencybatcher.worker.durable_records", "{record}", "Durable records received (every delivery).", () => counts().DurableRecords, tag);
        Observe("lowlatencybatcher.worker.redelivered", "{record}", "Durable records received again after an earlier delivery.", () => counts().Redelivered, tag);
        Observe("lowlatencybatcher.worker.put_back", "{record}", "Durable records put back for lack of room.", () => counts().PutBack, tag);
        Observe("lowlatencybatcher.worker.results", "{result}", "Results and replies published.", () => counts().Results, tag);
        Observe("lowlatencybatcher.worker.failed", "{record}", "Records whose processing failed.", () => counts().Failed, tag);
        Observe("lowlatencybatcher.worker.malformed", "{message}", "Malformed messages.", () => counts().Malformed, tag);
        Observe("lowlatencybatcher.worker.dead_lettered", "{message}", "Messages dead-lettered.", () => counts().DeadLettered, tag);
    }

    /// <summary>Disposes the meter when it was created here.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private void Observe(string name, string unit, string description, Func<long> read, KeyValuePair<string, object?> tag) =>
        _meter.CreateObservableCounter(name, () => new Measurement<long>(read(), tag), unit, description);
}

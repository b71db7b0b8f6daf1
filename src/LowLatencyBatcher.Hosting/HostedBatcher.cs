using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// A registered batcher together with what keeps it in step with its <see cref="BatcherOptions"/>: it listens to the
/// options' change sources (those behind <see cref="IOptionsMonitor{TOptions}"/>, for example a configuration section
/// bound with <c>BindConfiguration</c>) and hands every change to
/// <see cref="DynamicBatcher{TRecord, TResult}.Reconfigure"/>, which applies it from the next batch.
/// </summary>
/// <remarks>
/// <para>
/// A change is validated by the same rules as at start (the registered validators, among them the core's rules). A
/// change that breaks one is refused whole: nothing of it applies, the batcher runs on with the previous
/// configuration, and <see cref="BatcherEventIds.ReconfigurationRefused"/> is logged once per distinct refusal.
/// </para>
/// <para>
/// A valid change applies its live options (costs, batch sizes, timeouts, cost model, full-queue mode, failure
/// isolation) and keeps the creation-only ones (queue, prefetch, workers, pinning, lanes, ageing, buckets) at the
/// values the batcher was created with; a difference in those is logged as
/// <see cref="BatcherEventIds.RestartRequired"/> (once per distinct set of differences). Applying the live part keeps
/// live reconfiguration working while the configuration also holds a value that waits for a restart.
/// </para>
/// <para>
/// The listener is the options system's change tokens, not <see cref="IOptionsMonitor{TOptions}.OnChange"/>: the
/// monitor calls its listeners only with options that passed validation, so a refused change would go unnoticed.
/// </para>
/// </remarks>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class HostedBatcher<TRecord, TResult> : IDisposable
{
    private readonly Lock _lock = new();
    private readonly BatcherRegistration _registration;
    private readonly IOptionsFactory<BatcherOptions> _optionsFactory;
    private readonly IBatchObserver _observer;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _subscriptions = [];
    private BatcherOptions _current;
    private string? _lastRefusal;
    private string _pendingRestart = "";
    private bool _disposed;

    public HostedBatcher(
        BatcherRegistration registration,
        DynamicBatcher<TRecord, TResult> batcher,
        BatcherOptions options,
        IOptionsFactory<BatcherOptions> optionsFactory,
        IEnumerable<IOptionsChangeTokenSource<BatcherOptions>> changeSources,
        IBatchObserver observer,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _registration = registration;
        Batcher = batcher;
        _current = BatcherOptionFields.Clone(options);
        _optionsFactory = optionsFactory;
        _observer = observer;
        _timeProvider = timeProvider;
        _logger = logger;
        foreach (var source in changeSources)
        {
            if ((source.Name ?? Options.DefaultName) == registration.Name)
            {
                _subscriptions.Add(ChangeToken.OnChange(source.GetChangeToken, OnOptionsChanged));
            }
        }
    }

    /// <summary>The batcher.</summary>
    public DynamicBatcher<TRecord, TResult> Batcher { get; }

    /// <summary>The options in force: those the batcher was created with, updated by every change it took.</summary>
    public BatcherOptions Current
    {
        get
        {
            lock (_lock)
            {
                return BatcherOptionFields.Clone(_current);
            }
        }
    }

    /// <summary>Stops following the options.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    /// <summary>Reads the options afresh and applies what a running batcher can take of them.</summary>
    internal void OnOptionsChanged()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            BatcherOptions requested;
            try
            {
                // The factory, not the monitor: the monitor's cache may not have been cleared yet, and it never
                // passes on options that failed validation.
                requested = _optionsFactory.Create(_registration.Name);
            }
            catch (OptionsValidationException error)
            {
                Refuse(string.Join("; ", error.Failures));
                return;
            }
            catch (Exception error) when (error is InvalidOperationException or FormatException or ArgumentException)
            {
                // A value the binder cannot convert (an unknown enum name, a malformed TimeSpan), or a failing
                // configure action: a change callback must not throw, so it is refused like a broken rule.
                Refuse($"Batcher '{_registration.Name}': {BatcherLog.OneLine(error.Message)}");
                return;
            }

            var (next, liveChanges, restartChanges) = BatcherOptionFields.Merge(_current, requested);
            string restart = string.Join(", ", restartChanges);
            if (restart != _pendingRestart)
            {
                _pendingRestart = restart;
                if (restart.Length > 0)
                {
                    BatcherLog.RestartRequired(_logger, _registration.Name, restart);
                }
            }

            if (liveChanges.Count == 0)
            {
                _lastRefusal = null;
                return;
            }

            try
            {
                Batcher.Reconfigure(_registration.IsTokenBatcher
                    ? next.ToTokenBatcherOptions<TRecord>(_observer, _timeProvider)
                    : next.ToDynamicBatcherOptions<TRecord>(_observer, _timeProvider));
            }
            catch (ArgumentException error)
            {
                // Not expected after validation passed; the core's message says why.
                Refuse($"Batcher '{_registration.Name}': {BatcherLog.OneLine(error.Message)}");
                return;
            }

            _current = next;
            _lastRefusal = null;
            BatcherLog.Reconfigured(_logger, _registration.Name, string.Join(", ", liveChanges));
        }
    }

    private void Refuse(string reason)
    {
        if (reason != _lastRefusal)
        {
            _lastRefusal = reason;
            BatcherLog.ReconfigurationRefused(_logger, _registration.Name, reason);
        }
    }
}

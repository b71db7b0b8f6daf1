using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Packing.Rules;
using LowLatencyBatcher.Primitives;

namespace LowLatencyBatcher;

/// <summary>
/// The options of a batcher after aliases were resolved and every rule was checked: the one place where option
/// values are validated.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
internal sealed class BatcherSettings<TRecord>
{
    /// <summary>The largest intake ring (2^30 slots).</summary>
    public const int MaxQueueSizeLimit = 1 << 30;

    /// <summary>The largest prefetch ring (2^20 slots).</summary>
    public const int MaxPrefetchLimit = 1 << 20;

    /// <summary>The most workers (each is a task; the busy-time tracker counts up to 65,535).</summary>
    public const int MaxWorkersLimit = 1024;

    private BatcherSettings()
    {
    }

    public int DefaultCost { get; private init; }

    /// <summary>The most records in one batch (from <see cref="Rules"/>).</summary>
    public int MaxBatchSize => Rules.MaxBatchSize;

    public int MaxQueueSize { get; private init; }

    public int PrefetchBatches { get; private init; }

    public int Workers { get; private init; }

    public CostEstimatorFn<TRecord>? Estimator { get; private init; }

    /// <summary>The option name to quote when the estimator function returns a bad value.</summary>
    public string EstimatorName { get; private init; } = "";

    /// <summary>Whether records implementing <see cref="ITokenEstimator"/> estimate themselves (token batchers).</summary>
    public bool UseTokenEstimates { get; private init; }

    public TimeProvider TimeProvider { get; private init; } = TimeProvider.System;

    public bool PinPackingThread { get; private init; }

    /// <summary>Whether a lone record at an idle batcher runs on its submitter's thread (live: may be reconfigured).</summary>
    public bool RunAloneWhenIdle { get; private init; }

    public IBatchObserver? Observer { get; private init; }

    /// <summary>
    /// Whether every submit reads the clock for its record's arrival: the observer reports each record's submit time,
    /// and priority lanes age their heads by it. Otherwise a submit made while a resumer will pack skips it (see
    /// <c>DynamicBatcher.NewItem</c>).
    /// </summary>
    public bool StampsEverySubmit => Observer is not null || PriorityLanes > 1;

    public QueueFullMode QueueFullMode { get; private init; }

    public bool IsolateFailures { get; private init; }

    public int PriorityLanes { get; private init; }

    public TimeSpan PriorityAging { get; private init; }

    public int[] CostBuckets { get; private init; } = [];

    /// <summary>The most priority lanes.</summary>
    public const int MaxPriorityLanes = 8;

    /// <summary>How long a record may wait for a worker when its submit gives no timeout; null for no limit.</summary>
    public TimeSpan? DefaultTimeout { get; private init; }

    /// <summary>The batch rules of this configuration (rules 1 to 4: they may change on a running batcher).</summary>
    public BatchRules Rules { get; private init; } = null!;

    /// <summary>The order rules (rules 5 and 6: lanes, ageing, buckets), fixed at creation.</summary>
    public OrderRules Order { get; private init; } = null!;

    /// <summary>
    /// The most records that can be in flight at once: waiting, packed, prefetched, being processed, or waiting for
    /// their callers to be resumed.
    /// </summary>
    public int MaxRecordsInFlight =>
        (int)Math.Min(
            int.MaxValue,
            (long)MaxQueueSize * PriorityLanes + (long)MaxBatchSize * (PrefetchBatches + 2 * Workers + CostBuckets.Length + 2));

    /// <summary>Resolves aliases and checks every rule; throws an exception naming the option on a bad value.</summary>
    public static BatcherSettings<TRecord> From(DynamicBatcherOptions<TRecord> options, bool tokenBatcher)
    {
        ArgumentNullException.ThrowIfNull(options);
        var tokenOptions = options as TokenBatcherOptions<TRecord>;

        (int target, string targetName) = tokenOptions?.TargetBatchTokens is int tokens
            ? (tokens, nameof(TokenBatcherOptions<TRecord>.TargetBatchTokens))
            : (options.TargetBatchCost, nameof(options.TargetBatchCost));
        (int defaultCost, string defaultName) = tokenOptions?.DefaultTokenEstimate is int defaultTokens
            ? (defaultTokens, nameof(TokenBatcherOptions<TRecord>.DefaultTokenEstimate))
            : (options.DefaultCost, nameof(options.DefaultCost));
        (CostEstimatorFn<TRecord>? estimator, string estimatorName) = tokenOptions?.TokenEstimator is { } tokenEstimator
            ? (tokenEstimator, nameof(TokenBatcherOptions<TRecord>.TokenEstimator))
            : (options.CostEstimator, nameof(options.CostEstimator));

        AtLeast(target, 1, targetName);
        AtLeast(defaultCost, 0, defaultName);
        AtLeast(options.MaxBatchSize, 1, nameof(options.MaxBatchSize));
        AtLeast(options.MinBatchSize, 1, nameof(options.MinBatchSize));
        if (options.MinBatchSize > options.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options.MinBatchSize),
                options.MinBatchSize,
                $"MinBatchSize must not exceed MaxBatchSize ({options.MaxBatchSize}).");
        }

        CheckTimeout(options.BatchTimeout, nameof(options.BatchTimeout));

        AtLeast(options.PerBatchCost, 0, nameof(options.PerBatchCost));
        if (!Enum.IsDefined(options.CostModel))
        {
            throw new ArgumentOutOfRangeException(nameof(options.CostModel), options.CostModel, "CostModel must be Sum or Padded.");
        }

        if (!Enum.IsDefined(options.QueueFullMode))
        {
            throw new ArgumentOutOfRangeException(
                nameof(options.QueueFullMode), options.QueueFullMode, "QueueFullMode must be Wait or Reject.");
        }

        if (options.DefaultTimeout is { } timeout)
        {
            CheckTimeout(timeout, nameof(options.DefaultTimeout));
        }

        InRange(options.PriorityLanes, 1, MaxPriorityLanes, nameof(options.PriorityLanes));
        CheckTimeout(options.PriorityAging, nameof(options.PriorityAging));
        int[] buckets = options.CostBuckets?.ToArray() ?? [];
        for (int i = 0; i < buckets.Length; i++)
        {
            if (buckets[i] < 0 || (i > 0 && buckets[i] <= buckets[i - 1]))
            {
                throw new ArgumentOutOfRangeException(
                    nameof(options.CostBuckets), buckets[i], "CostBuckets must be zero or more and strictly ascending.");
            }
        }

        InRange(options.MaxQueueSize, 1, MaxQueueSizeLimit, nameof(options.MaxQueueSize));
        InRange(options.PrefetchBatches, 1, MaxPrefetchLimit, nameof(options.PrefetchBatches));
        InRange(options.Workers, 1, Math.Min(MaxWorkersLimit, BusyTracker.MaxConcurrent), nameof(options.Workers));
        if (options.TimeProvider is null)
        {
            throw new ArgumentNullException(nameof(options.TimeProvider), "TimeProvider must not be null.");
        }

        long frequency = options.TimeProvider.TimestampFrequency;
        return new BatcherSettings<TRecord>
        {
            Rules = new BatchRules(
                target, options.MaxBatchSize, options.MinBatchSize, options.BatchTimeout, frequency, options.CostModel, options.PerBatchCost),
            Order = new OrderRules(frequency, options.PriorityLanes > 1 ? options.PriorityAging : null, buckets),
            PriorityLanes = options.PriorityLanes,
            PriorityAging = options.PriorityAging,
            CostBuckets = buckets,
            QueueFullMode = options.QueueFullMode,
            IsolateFailures = options.IsolateFailures,
            DefaultTimeout = options.DefaultTimeout,
            DefaultCost = defaultCost,
            MaxQueueSize = options.MaxQueueSize,
            PrefetchBatches = options.PrefetchBatches,
            Workers = options.Workers,
            Estimator = estimator,
            EstimatorName = estimatorName,
            UseTokenEstimates = tokenBatcher,
            TimeProvider = options.TimeProvider,
            PinPackingThread = options.PinPackingThread,
            RunAloneWhenIdle = options.RunAloneWhenIdle,
            Observer = options.Observer,
        };
    }

    /// <summary>
    /// The options that shape the engine (see <see cref="CreationOnlyOptions"/>), each with the value a reconfiguration
    /// must keep: the one list of them.
    /// </summary>
    internal static readonly IReadOnlyList<(string Name, Func<BatcherSettings<TRecord>, object> Value)> CreationOnly =
    [
        (nameof(DynamicBatcherOptions<TRecord>.MaxQueueSize), s => s.MaxQueueSize),
        (nameof(DynamicBatcherOptions<TRecord>.PrefetchBatches), s => s.PrefetchBatches),
        (nameof(DynamicBatcherOptions<TRecord>.Workers), s => s.Workers),
        (nameof(DynamicBatcherOptions<TRecord>.PinPackingThread), s => s.PinPackingThread),
        (nameof(DynamicBatcherOptions<TRecord>.PriorityLanes), s => s.PriorityLanes),
        (nameof(DynamicBatcherOptions<TRecord>.PriorityAging), s => s.PriorityAging),
        (nameof(DynamicBatcherOptions<TRecord>.CostBuckets), s => "[" + string.Join(", ", s.CostBuckets) + "]"),
        (nameof(DynamicBatcherOptions<TRecord>.TimeProvider), s => s.TimeProvider),
    ];

    /// <summary>
    /// Checks a configuration for a running batcher: every rule of <see cref="From"/>, and the creation-only options
    /// must stay as they are.
    /// </summary>
    public BatcherSettings<TRecord> Reconfigured(DynamicBatcherOptions<TRecord> options)
    {
        var next = From(options, UseTokenEstimates);
        foreach (var (name, value) in CreationOnly)
        {
            object current = value(this);
            object asked = value(next);
            if (!current.Equals(asked))
            {
                throw new ArgumentException(
                    $"{name} can only be set when the batcher is created (it is {current}; {asked} was asked).", name);
            }
        }

        return next;
    }

    /// <summary>Checks a timeout given to a submit or an option: positive and finite.</summary>
    public static void CheckTimeout(TimeSpan timeout, string name)
    {
        if (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromMilliseconds(int.MaxValue - 1))
        {
            throw new ArgumentOutOfRangeException(name, timeout, $"{name} must be positive and finite (at most 24.8 days).");
        }
    }

    private static void AtLeast(int value, int minimum, string name)
    {
        if (value < minimum)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least {minimum}.");
        }
    }

    private static void InRange(int value, int minimum, int maximum, string name)
    {
        if (value < minimum || value > maximum)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {minimum} and {maximum}.");
        }
    }
}

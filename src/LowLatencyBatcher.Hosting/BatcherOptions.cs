namespace LowLatencyBatcher.Hosting;

/// <summary>
/// The bindable knobs of a batcher registered with
/// <see cref="BatcherServiceCollectionExtensions.AddTokenBatcher{TRecord, TResult}"/> or
/// <see cref="BatcherServiceCollectionExtensions.AddDynamicBatcher{TRecord, TResult}"/>: the options pattern's
/// counterpart of <see cref="DynamicBatcherOptions{TRecord}"/> and <see cref="TokenBatcherOptions{TRecord}"/>, with
/// settable properties so that an <c>IConfiguration</c> section can be bound to it.
/// </summary>
/// <remarks>
/// The defaults are the core's. Every value is checked when the host starts, by the same rules the batcher's
/// constructor applies; a bad value stops the start with a message that names the batcher and the option.
/// When the options change while the host runs (a configuration reload), the batcher follows them from its next
/// batch; see <see cref="BatcherServiceCollectionExtensions.AddTokenBatcher{TRecord, TResult}"/> for which options
/// can change live and what happens to a refused change.
/// Code-only settings (estimator functions) have no place here: let records estimate themselves through
/// <see cref="ITokenEstimator"/> or <see cref="ICostEstimator"/>, or pass the estimate at submit.
/// </remarks>
public sealed class BatcherOptions
{
    private static readonly DynamicBatcherOptions<object> CoreDefaults = new();

    /// <summary>The cost budget of one batch. See <see cref="DynamicBatcherOptions{TRecord}.TargetBatchCost"/>.</summary>
    public int TargetBatchCost { get; set; } = CoreDefaults.TargetBatchCost;

    /// <summary>
    /// Token batchers only: the token budget of one batch; when set, it wins over <see cref="TargetBatchCost"/>.
    /// See <see cref="TokenBatcherOptions{TRecord}.TargetBatchTokens"/>.
    /// </summary>
    public int? TargetBatchTokens { get; set; }

    /// <summary>The cost of a record nothing else estimates. See <see cref="DynamicBatcherOptions{TRecord}.DefaultCost"/>.</summary>
    public int DefaultCost { get; set; } = CoreDefaults.DefaultCost;

    /// <summary>
    /// Token batchers only: the token count of a record nothing else estimates; when set, it wins over
    /// <see cref="DefaultCost"/>. See <see cref="TokenBatcherOptions{TRecord}.DefaultTokenEstimate"/>.
    /// </summary>
    public int? DefaultTokenEstimate { get; set; }

    /// <summary>The most records in one batch. See <see cref="DynamicBatcherOptions{TRecord}.MaxBatchSize"/>.</summary>
    public int MaxBatchSize { get; set; } = CoreDefaults.MaxBatchSize;

    /// <summary>The fewest records a batch needs before it is sent early. See <see cref="DynamicBatcherOptions{TRecord}.MinBatchSize"/>.</summary>
    public int MinBatchSize { get; set; } = CoreDefaults.MinBatchSize;

    /// <summary>How long the open batch may wait from its first record. See <see cref="DynamicBatcherOptions{TRecord}.BatchTimeout"/>.</summary>
    public TimeSpan BatchTimeout { get; set; } = CoreDefaults.BatchTimeout;

    /// <summary>How many records may wait in the intake. See <see cref="DynamicBatcherOptions{TRecord}.MaxQueueSize"/>.</summary>
    public int MaxQueueSize { get; set; } = CoreDefaults.MaxQueueSize;

    /// <summary>How many sealed batches may wait for a worker. See <see cref="DynamicBatcherOptions{TRecord}.PrefetchBatches"/>.</summary>
    public int PrefetchBatches { get; set; } = CoreDefaults.PrefetchBatches;

    /// <summary>How many batches may be inside the process function at once. See <see cref="DynamicBatcherOptions{TRecord}.Workers"/>.</summary>
    public int Workers { get; set; } = CoreDefaults.Workers;

    /// <summary>Whether to pin the packing thread to one CPU. See <see cref="DynamicBatcherOptions{TRecord}.PinPackingThread"/>.</summary>
    public bool PinPackingThread { get; set; } = CoreDefaults.PinPackingThread;

    /// <summary>
    /// Whether a lone record at an idle batcher runs on its submitter's thread. See
    /// <see cref="DynamicBatcherOptions{TRecord}.RunAloneWhenIdle"/>.
    /// </summary>
    public bool RunAloneWhenIdle { get; set; } = CoreDefaults.RunAloneWhenIdle;

    /// <summary>
    /// How a batch's cost follows from its records' costs: <c>Sum</c> or <c>Padded</c>. See
    /// <see cref="DynamicBatcherOptions{TRecord}.CostModel"/>.
    /// </summary>
    public CostModel CostModel { get; set; } = CoreDefaults.CostModel;

    /// <summary>A fixed cost added to every batch. See <see cref="DynamicBatcherOptions{TRecord}.PerBatchCost"/>.</summary>
    public int PerBatchCost { get; set; } = CoreDefaults.PerBatchCost;

    /// <summary>
    /// What a submit does when the queue is full: <c>Wait</c> or <c>Reject</c>. See
    /// <see cref="DynamicBatcherOptions{TRecord}.QueueFullMode"/>.
    /// </summary>
    public QueueFullMode QueueFullMode { get; set; } = CoreDefaults.QueueFullMode;

    /// <summary>
    /// How long a record may wait for a worker when its submit gives no timeout; null for no limit. See
    /// <see cref="DynamicBatcherOptions{TRecord}.DefaultTimeout"/>.
    /// </summary>
    public TimeSpan? DefaultTimeout { get; set; } = CoreDefaults.DefaultTimeout;

    /// <summary>
    /// Whether a failing batch is retried in halves so that only the records that fail alone get the exception. See
    /// <see cref="DynamicBatcherOptions{TRecord}.IsolateFailures"/>.
    /// </summary>
    public bool IsolateFailures { get; set; } = CoreDefaults.IsolateFailures;

    /// <summary>The number of priority lanes. See <see cref="DynamicBatcherOptions{TRecord}.PriorityLanes"/>.</summary>
    public int PriorityLanes { get; set; } = CoreDefaults.PriorityLanes;

    /// <summary>
    /// With several lanes, how long a record waits before it goes first whatever its lane. See
    /// <see cref="DynamicBatcherOptions{TRecord}.PriorityAging"/>.
    /// </summary>
    public TimeSpan PriorityAging { get; set; } = CoreDefaults.PriorityAging;

    /// <summary>
    /// Upper bounds of the cost buckets, strictly ascending (in configuration: <c>"CostBuckets": [64, 256, 1024]</c>);
    /// null or empty for one bucket. See <see cref="DynamicBatcherOptions{TRecord}.CostBuckets"/>.
    /// </summary>
    public IReadOnlyList<int>? CostBuckets { get; set; }

    /// <summary>Builds the core options of a token batcher from these values.</summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <param name="observer">Receives a report after every processed batch; may be null.</param>
    /// <param name="timeProvider">The clock; null for <see cref="TimeProvider.System"/>.</param>
    public TokenBatcherOptions<TRecord> ToTokenBatcherOptions<TRecord>(IBatchObserver? observer = null, TimeProvider? timeProvider = null) => new()
    {
        TargetBatchCost = TargetBatchCost,
        TargetBatchTokens = TargetBatchTokens,
        DefaultCost = DefaultCost,
        DefaultTokenEstimate = DefaultTokenEstimate,
        MaxBatchSize = MaxBatchSize,
        MinBatchSize = MinBatchSize,
        BatchTimeout = BatchTimeout,
        MaxQueueSize = MaxQueueSize,
        PrefetchBatches = PrefetchBatches,
        Workers = Workers,
        PinPackingThread = PinPackingThread,
        RunAloneWhenIdle = RunAloneWhenIdle,
        CostModel = CostModel,
        PerBatchCost = PerBatchCost,
        QueueFullMode = QueueFullMode,
        DefaultTimeout = DefaultTimeout,
        IsolateFailures = IsolateFailures,
        PriorityLanes = PriorityLanes,
        PriorityAging = PriorityAging,
        CostBuckets = CostBuckets?.ToArray(),
        Observer = observer,
        TimeProvider = timeProvider ?? TimeProvider.System,
    };

    /// <summary>Builds the core options of a dynamic batcher from these values.</summary>
    /// <typeparam name="TRecord">The record type.</typeparam>
    /// <param name="observer">Receives a report after every processed batch; may be null.</param>
    /// <param name="timeProvider">The clock; null for <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentException">A token-only option (<see cref="TargetBatchTokens"/>, <see cref="DefaultTokenEstimate"/>) is set.</exception>
    public DynamicBatcherOptions<TRecord> ToDynamicBatcherOptions<TRecord>(IBatchObserver? observer = null, TimeProvider? timeProvider = null)
    {
        if (TargetBatchTokens is not null)
        {
            throw new ArgumentException(
                "TargetBatchTokens applies to token batchers only; set TargetBatchCost for a dynamic batcher.",
                nameof(TargetBatchTokens));
        }

        if (DefaultTokenEstimate is not null)
        {
            throw new ArgumentException(
                "DefaultTokenEstimate applies to token batchers only; set DefaultCost for a dynamic batcher.",
                nameof(DefaultTokenEstimate));
        }

        // With both token aliases unset, the token options are exactly the dynamic ones: one mapping serves both.
        return ToTokenBatcherOptions<TRecord>(observer, timeProvider);
    }
}

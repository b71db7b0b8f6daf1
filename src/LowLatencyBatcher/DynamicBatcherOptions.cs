namespace LowLatencyBatcher;

/// <summary>
/// The knobs of a <see cref="DynamicBatcher{TRecord, TResult}"/>. Every value is checked when the batcher is
/// constructed; a bad one throws an exception that names the option and the rule.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
public class DynamicBatcherOptions<TRecord>
{
    /// <summary>
    /// The cost budget of one batch (for example, tokens that fit in memory): a batch never exceeds it, except a lone
    /// record whose own cost is larger, which runs in a batch of its own. At least 1. Default 32,000.
    /// </summary>
    public int TargetBatchCost { get; init; } = 32_000;

    /// <summary>The cost of a record when nothing else estimates it. Zero or more. Default 1.</summary>
    public int DefaultCost { get; init; } = 1;

    /// <summary>The most records in one batch. At least 1. Default 256.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// The fewest records a batch needs before it is sent early to an idle worker; below it, the batch waits to fill
    /// up or for <see cref="BatchTimeout"/>. Between 1 and <see cref="MaxBatchSize"/>. Default 1 (a lone record goes
    /// straight to an idle worker); <see cref="MaxBatchSize"/> gives wait-to-fill batching.
    /// </summary>
    public int MinBatchSize { get; init; } = 1;

    /// <summary>
    /// How long the open batch may wait, from its first record's submit, before it is sent whatever it holds: never
    /// less. A record submitted while callers are being resumed, with no observer, deadline or lanes to need its own
    /// submit time, counts from its packing instead, which follows that resumption turn (rule 3 of the design notes).
    /// Positive. Default 50 ms.
    /// </summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How many accepted records may wait for the packing thread before submits wait for room (backpressure).
    /// Between 1 and 2^30. Default 5,000.
    /// </summary>
    public int MaxQueueSize { get; init; } = 5_000;

    /// <summary>How many sealed batches may wait for a worker. Between 1 and 2^20. Default 2.</summary>
    public int PrefetchBatches { get; init; } = 2;

    /// <summary>How many batches may be inside the process function at once. Between 1 and 1,024. Default 1.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>
    /// Estimates a record's cost when a submit gives no explicit estimate. When null, a record implementing
    /// <see cref="ICostEstimator"/> estimates itself, else <see cref="DefaultCost"/> applies.
    /// </summary>
    public CostEstimatorFn<TRecord>? CostEstimator { get; init; }

    /// <summary>How a batch's cost follows from its records' costs. Default <see cref="LowLatencyBatcher.CostModel.Sum"/>.</summary>
    public CostModel CostModel { get; init; } = CostModel.Sum;

    /// <summary>A fixed cost added to every batch (for example, per-call overhead in tokens). Zero or more. Default 0.</summary>
    public int PerBatchCost { get; init; }

    /// <summary>What a submit does when the queue is full. Default <see cref="LowLatencyBatcher.QueueFullMode.Wait"/>.</summary>
    public QueueFullMode QueueFullMode { get; init; } = QueueFullMode.Wait;

    /// <summary>
    /// How long a record may wait to be handed to a worker when its submit gives no timeout of its own; past that it
    /// completes with <see cref="TimeoutException"/> and never reaches the process function. Positive, or null for
    /// no limit. Default null.
    /// </summary>
    public TimeSpan? DefaultTimeout { get; init; }

    /// <summary>
    /// The number of priority lanes, 1 to 8 (a submit picks one with <see cref="SubmitOptions.Priority"/>; 0 is the
    /// most urgent). Batches are filled from the most urgent lane first; each lane holds up to <see cref="MaxQueueSize"/>
    /// records of its own. Fixed at creation. Default 1.
    /// </summary>
    public int PriorityLanes { get; init; } = 1;

    /// <summary>
    /// With several lanes: a record that has waited this long goes first whatever its lane, so nothing starves.
    /// Positive. Fixed at creation. Default 1 second.
    /// </summary>
    public TimeSpan PriorityAging { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Optional upper bounds of cost buckets, strictly ascending (for example 64, 256, 1024: four buckets, the last
    /// for costs above 1024). Each bucket has its own open batch with its own timeout, so records of similar length
    /// are batched together (less padding under <see cref="CostModel.Padded"/>); order is then FIFO within a bucket
    /// only. Fixed at creation. Default none (one bucket).
    /// </summary>
    public IReadOnlyList<int>? CostBuckets { get; init; }

    /// <summary>
    /// Poison-record isolation: when the process function throws for a whole batch, retry the batch in halves (and
    /// each failing half in halves again), so that only the records that fail in a call of their own get the
    /// exception. One bad record among n costs about 2·log2(n) extra calls. Default false.
    /// </summary>
    public bool IsolateFailures { get; init; }

    /// <summary>Receives a report after every processed batch (metrics, tracing). Default none.</summary>
    public IBatchObserver? Observer { get; init; }

    /// <summary>The clock for timeouts and statistics. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Whether to pin the packing thread to one CPU where the operating system allows it (Linux, with more than one
    /// CPU allowed to the process). Default true.
    /// </summary>
    public bool PinPackingThread { get; init; } = true;

    /// <summary>
    /// The idle fast path: when a record arrives at an idle batcher (nothing queued, packing or waiting for a worker,
    /// no caller about to be resumed, a worker free, <see cref="MinBatchSize"/> 1), the submitting thread runs its
    /// batch of one itself — the batch rule 3 would send eagerly anyway — with no thread hop; a process function that
    /// completes synchronously then gives a completed task. The process function then runs on the caller's thread (its
    /// execution context flows in). Three calls in a row that each hold the caller for more than 50 µs before the
    /// function returns its task put the fast path off for 10 ms, doubling with each further such call up to 1 s, so a
    /// blocking function rarely keeps a caller from submitting its next records. Under load records go through the packing thread.
    /// Default true.
    /// </summary>
    public bool RunAloneWhenIdle { get; init; } = true;
}

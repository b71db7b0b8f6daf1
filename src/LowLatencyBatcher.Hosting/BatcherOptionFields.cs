using System.Globalization;

namespace LowLatencyBatcher.Hosting;

/// <summary>
/// Every property of <see cref="BatcherOptions"/>, with whether a running batcher can take a new value of it: the one
/// list that copying, comparing and describing a change of options go through.
/// </summary>
internal static class BatcherOptionFields
{
    /// <summary>One option: its name, whether it can change on a running batcher, its value as text, and a copier.</summary>
    internal sealed record Field(string Name, bool Live, Func<BatcherOptions, string> Show, Action<BatcherOptions, BatcherOptions> CopyTo);

    /// <summary>The options, in the order of <see cref="BatcherOptions"/>.</summary>
    public static readonly IReadOnlyList<Field> All =
    [
        Option(nameof(BatcherOptions.TargetBatchCost), o => Text(o.TargetBatchCost), (to, from) => to.TargetBatchCost = from.TargetBatchCost),
        Option(nameof(BatcherOptions.TargetBatchTokens), o => Text(o.TargetBatchTokens), (to, from) => to.TargetBatchTokens = from.TargetBatchTokens),
        Option(nameof(BatcherOptions.DefaultCost), o => Text(o.DefaultCost), (to, from) => to.DefaultCost = from.DefaultCost),
        Option(nameof(BatcherOptions.DefaultTokenEstimate), o => Text(o.DefaultTokenEstimate), (to, from) => to.DefaultTokenEstimate = from.DefaultTokenEstimate),
        Option(nameof(BatcherOptions.MaxBatchSize), o => Text(o.MaxBatchSize), (to, from) => to.MaxBatchSize = from.MaxBatchSize),
        Option(nameof(BatcherOptions.MinBatchSize), o => Text(o.MinBatchSize), (to, from) => to.MinBatchSize = from.MinBatchSize),
        Option(nameof(BatcherOptions.BatchTimeout), o => Text(o.BatchTimeout), (to, from) => to.BatchTimeout = from.BatchTimeout),
        Option(nameof(BatcherOptions.MaxQueueSize), o => Text(o.MaxQueueSize), (to, from) => to.MaxQueueSize = from.MaxQueueSize),
        Option(nameof(BatcherOptions.PrefetchBatches), o => Text(o.PrefetchBatches), (to, from) => to.PrefetchBatches = from.PrefetchBatches),
        Option(nameof(BatcherOptions.Workers), o => Text(o.Workers), (to, from) => to.Workers = from.Workers),
        Option(nameof(BatcherOptions.PinPackingThread), o => Text(o.PinPackingThread), (to, from) => to.PinPackingThread = from.PinPackingThread),
        Option(nameof(BatcherOptions.RunAloneWhenIdle), o => Text(o.RunAloneWhenIdle), (to, from) => to.RunAloneWhenIdle = from.RunAloneWhenIdle),
        Option(nameof(BatcherOptions.CostModel), o => o.CostModel.ToString(), (to, from) => to.CostModel = from.CostModel),
        Option(nameof(BatcherOptions.PerBatchCost), o => Text(o.PerBatchCost), (to, from) => to.PerBatchCost = from.PerBatchCost),
        Option(nameof(BatcherOptions.QueueFullMode), o => o.QueueFullMode.ToString(), (to, from) => to.QueueFullMode = from.QueueFullMode),
        Option(nameof(BatcherOptions.DefaultTimeout), o => o.DefaultTimeout is { } t ? Text(t) : "none", (to, from) => to.DefaultTimeout = from.DefaultTimeout),
        Option(nameof(BatcherOptions.IsolateFailures), o => Text(o.IsolateFailures), (to, from) => to.IsolateFailures = from.IsolateFailures),
        Option(nameof(BatcherOptions.PriorityLanes), o => Text(o.PriorityLanes), (to, from) => to.PriorityLanes = from.PriorityLanes),
        Option(nameof(BatcherOptions.PriorityAging), o => Text(o.PriorityAging), (to, from) => to.PriorityAging = from.PriorityAging),
        Option(
            nameof(BatcherOptions.CostBuckets),
            o => o.CostBuckets is { Count: > 0 } b ? "[" + string.Join(", ", b.Select(Text)) + "]" : "none",
            (to, from) => to.CostBuckets = from.CostBuckets?.ToArray()),
    ];

    /// <summary>A copy of <paramref name="options"/> that shares nothing mutable with it.</summary>
    public static BatcherOptions Clone(BatcherOptions options)
    {
        var copy = new BatcherOptions();
        foreach (var field in All)
        {
            field.CopyTo(copy, options);
        }

        return copy;
    }

    /// <summary>
    /// What a running batcher configured with <paramref name="current"/> can take from <paramref name="requested"/>:
    /// the requested values of the live options, with the creation-only ones kept as they are. Also lists the changes
    /// (<c>Name old -&gt; new</c>) of each kind.
    /// </summary>
    public static (BatcherOptions Next, IReadOnlyList<string> LiveChanges, IReadOnlyList<string> RestartChanges) Merge(
        BatcherOptions current, BatcherOptions requested)
    {
        var next = Clone(requested);
        var live = new List<string>();
        var restart = new List<string>();
        foreach (var field in All)
        {
            string was = field.Show(current);
            string asked = field.Show(requested);
            if (was == asked)
            {
                continue;
            }

            if (field.Live)
            {
                live.Add($"{field.Name} {was} -> {asked}");
            }
            else
            {
                restart.Add($"{field.Name} {was} -> {asked}");
                field.CopyTo(next, current);
            }
        }

        return (next, live, restart);
    }

    /// <summary>An option: live unless the core lists it among <see cref="CreationOnlyOptions"/>.</summary>
    private static Field Option(string name, Func<BatcherOptions, string> show, Action<BatcherOptions, BatcherOptions> copy) =>
        new(name, Live: !CreationOnlyOptions.Contains(name), show, copy);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(int? value) => value is { } v ? Text(v) : "unset";

    private static string Text(bool value) => value ? "true" : "false";

    private static string Text(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}

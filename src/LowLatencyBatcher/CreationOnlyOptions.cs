namespace LowLatencyBatcher;

/// <summary>
/// The options that shape the engine itself (its rings, lanes, buckets, threads and clock): they are set when a
/// batcher is created, and <see cref="DynamicBatcher{TRecord, TResult}.Reconfigure"/> refuses a change of any of
/// them. Every other option of <see cref="DynamicBatcherOptions{TRecord}"/> and
/// <see cref="TokenBatcherOptions{TRecord}"/> may change on a running batcher, from its next batch.
/// </summary>
public static class CreationOnlyOptions
{
    /// <summary>The property names of the creation-only options.</summary>
    public static IReadOnlySet<string> Names { get; } =
        BatcherSettings<object>.CreationOnly.Select(option => option.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Whether the option named <paramref name="optionName"/> (a property name) is fixed at creation.</summary>
    /// <param name="optionName">The property name, e.g. <c>nameof(DynamicBatcherOptions&lt;T&gt;.Workers)</c>.</param>
    public static bool Contains(string optionName) => Names.Contains(optionName);
}

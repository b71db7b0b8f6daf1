using LowLatencyBatcher.Torch.Streams;

namespace LowLatencyBatcher.Torch.Runner;

/// <summary>Settings of a <see cref="TokenBatchRunner"/>.</summary>
public sealed class TokenBatchRunnerOptions
{
    /// <summary>
    /// The device: <c>auto</c> (default; CUDA when available, else the CPU), <c>cpu</c>, <c>cuda</c> or
    /// <c>cuda:N</c>. Ignored when <see cref="StreamBackend"/> is set.
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// A stream backend to use instead of the one made for <see cref="Device"/>. The runner does not dispose it.
    /// </summary>
    public IStreamBackend? StreamBackend { get; init; }

    /// <summary>The most records a batch may hold; the staging buffers have this many rows. Default 256.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>The sequence length the staging buffers are first sized for. Default 128.</summary>
    public int InitialSequenceLength { get; init; } = 128;

    /// <summary>
    /// The model's vocabulary size: every token id must lie in <c>[0, VocabularySize)</c>, and a record with an id
    /// outside fails before anything is sent to the device (on CUDA an out-of-range id would trip a device-side
    /// assert that breaks every later CUDA call of the process). <see langword="null"/> (default): ids are not checked.
    /// </summary>
    public int? VocabularySize { get; init; }

    /// <summary>The token id written into padding positions. Default 0.</summary>
    public long PaddingId { get; init; }

    /// <summary>
    /// False (default): the model returns <c>[B, F]</c> and each record gets its row. True: the model returns
    /// <c>[B, L, F]</c> and each record gets its unpadded positions, flattened.
    /// </summary>
    public bool PerTokenOutput { get; init; }

    /// <summary>Told of each packing step; lets tests check the order of operations.</summary>
    internal IPipelineObserver? Observer { get; init; }
}

/// <summary>Observes the host-side steps of the runner's pipeline that the stream seam does not see.</summary>
internal interface IPipelineObserver
{
    /// <summary>Called just before batch <paramref name="sequence"/> is written into slot <paramref name="slot"/>'s staging buffer.</summary>
    void Packing(int slot, long sequence);
}

namespace LowLatencyBatcher.Onnx;

/// <summary>Settings of an <see cref="OnnxEmbeddingRunner{TRecord}"/>.</summary>
public sealed class OnnxEmbeddingRunnerOptions
{
    /// <summary>The token id written into padding positions. Default 0 (<c>[PAD]</c> of BERT vocabularies).</summary>
    public long PaddingId { get; init; }

    /// <summary>
    /// Threads ONNX Runtime uses inside one operator; 0 (default) lets it choose (one per physical core).
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Batches run at once; more wait their turn. Default 1: one batch already uses every intra-op thread, and two at
    /// once only make them compete (the batcher's second worker then packs the next batch while the first runs).
    /// </summary>
    public int MaxConcurrentRuns { get; init; } = 1;

    /// <summary>
    /// Lets ONNX Runtime's idle intra-op threads spin for work instead of sleeping. Default false: spinning wins a
    /// little on an idle machine with cores to spare and loses badly when the cores are shared.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>
    /// The model output to read. Default <c>last_hidden_state</c> (<c>[B, L, H]</c>), which the runner mean-pools over
    /// each record's real tokens; an output of rank 2 (<c>[B, H]</c>) is taken as already pooled.
    /// </summary>
    public string OutputName { get; init; } = "last_hidden_state";

    /// <summary>Scales each embedding to unit length (as sentence-transformers models expect). Default true.</summary>
    public bool Normalize { get; init; } = true;
}

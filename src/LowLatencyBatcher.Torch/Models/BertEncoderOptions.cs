namespace LowLatencyBatcher.Torch.Models;

/// <summary>The shape of a <see cref="BertEncoder"/>; the defaults are those of all-MiniLM-L6-v2.</summary>
public sealed record BertEncoderOptions
{
    /// <summary>Token ids must lie in <c>[0, VocabularySize)</c>. Default 30522.</summary>
    public int VocabularySize { get; init; } = 30522;

    /// <summary>The longest sequence the position table covers. Default 512.</summary>
    public int MaxSequenceLength { get; init; } = 512;

    /// <summary>The hidden width, which is also the embedding width. Default 384.</summary>
    public int HiddenSize { get; init; } = 384;

    /// <summary>Attention heads per layer; must divide <see cref="HiddenSize"/>. Default 12.</summary>
    public int Heads { get; init; } = 12;

    /// <summary>Encoder layers. Default 6.</summary>
    public int Layers { get; init; } = 6;

    /// <summary>The width of each feed-forward block. Default 1536.</summary>
    public int IntermediateSize { get; init; } = 1536;

    /// <summary>The epsilon of every layer normalisation. Default 1e-12.</summary>
    public double LayerNormEpsilon { get; init; } = 1e-12;
}

namespace LowLatencyBatcher.Torch.Models;

/// <summary>Shape and seed of a <see cref="DemoEncoder"/>.</summary>
public sealed record DemoEncoderOptions
{
    /// <summary>Token ids must lie in <c>[0, VocabularySize)</c>. Default 8192.</summary>
    public int VocabularySize { get; init; } = 8192;

    /// <summary>The longest sequence the position table covers. Default 512.</summary>
    public int MaxSequenceLength { get; init; } = 512;

    /// <summary>The embedding (and output) width. Default 128.</summary>
    public int ModelDimension { get; init; } = 128;

    /// <summary>Attention heads per layer; must divide <see cref="ModelDimension"/>. Default 4.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Encoder layers. Default 2.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>The hidden width of each feed-forward block. Default 256.</summary>
    public int FeedForwardDimension { get; init; } = 256;

    /// <summary>The seed all weights are drawn from. Default 1234.</summary>
    public long Seed { get; init; } = 1234;
}

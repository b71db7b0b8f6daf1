using LowLatencyBatcher;

/// <summary>A text and its token ids; its cost in the batcher is its exact token count.</summary>
/// <param name="Text">The text.</param>
/// <param name="Ids">Its token ids, [CLS] and [SEP] included.</param>
internal sealed record Sentence(string Text, int[] Ids) : ITokenEstimator
{
    /// <inheritdoc />
    public int EstimateTokens() => Ids.Length;
}

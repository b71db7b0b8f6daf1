namespace LowLatencyBatcher.Torch;

/// <summary>A tokenized input: the ids of one sequence, in order. Its token count is its length.</summary>
/// <param name="Ids">The token ids; must stay unchanged until the record's result has been produced.</param>
public readonly record struct TokenSequence(ReadOnlyMemory<int> Ids) : ITokenEstimator
{
    /// <summary>The number of tokens.</summary>
    public int Length => Ids.Length;

    /// <inheritdoc />
    public int EstimateTokens() => Ids.Length;

    /// <summary>Wraps an array of token ids.</summary>
    /// <param name="ids">The token ids.</param>
    public static implicit operator TokenSequence(int[] ids) => new(ids);
}

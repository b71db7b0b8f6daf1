namespace LowLatencyBatcher;

/// <summary>A text prompt whose token count is estimated as one token per four characters, plus one.</summary>
/// <param name="Text">The prompt text.</param>
public sealed record Prompt(string Text) : ITokenEstimator
{
    /// <inheritdoc />
    public int EstimateTokens() => Text.Length / 4 + 1;
}

/// <summary>The answer of <c>POST /embed</c>.</summary>
/// <param name="Embedding">The text's embedding.</param>
public sealed record EmbedResponse(float[] Embedding);

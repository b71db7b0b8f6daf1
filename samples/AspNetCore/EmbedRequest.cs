/// <summary>The body of <c>POST /embed</c>.</summary>
/// <param name="Text">The text to embed.</param>
public sealed record EmbedRequest(string Text);

namespace LowLatencyBatcher.Server;

/// <summary>What the endpoints need to know about the served model.</summary>
/// <param name="Name">The name responses carry and <c>/v1/models</c> lists.</param>
/// <param name="Dimensions">The width of its embeddings.</param>
/// <param name="VocabularySize">Its token ids lie in <c>[0, VocabularySize)</c>.</param>
/// <param name="Backend">What runs it: <c>torch</c> or <c>onnx</c>.</param>
/// <param name="Aliases">Other names a request may use for it.</param>
internal sealed record ModelInfo(string Name, int Dimensions, int VocabularySize, string Backend, IReadOnlyList<string> Aliases)
{
    /// <summary>The demo encoder with random weights (fast; its vectors mean nothing).</summary>
    public const string DemoName = "lowlatencybatcher-demo-encoder";

    /// <summary>Describes the model <paramref name="options"/> select.</summary>
    public static ModelInfo For(EmbeddingsServerOptions options) => options.Model.ToLowerInvariant() switch
    {
        EmbeddingsServerOptions.DemoModel => new ModelInfo(DemoName, 128, 8192, options.Backend.ToLowerInvariant(), []),
        _ => new ModelInfo(Torch.Models.MiniLmFiles.ModelName, 384, 30522, options.Backend.ToLowerInvariant(), ["sentence-transformers/all-MiniLM-L6-v2"]),
    };

    /// <summary>Whether a request naming <paramref name="requested"/> means this model (case is ignored).</summary>
    public bool Answers(string requested) =>
        string.Equals(requested, Name, StringComparison.OrdinalIgnoreCase)
        || Aliases.Any(alias => string.Equals(requested, alias, StringComparison.OrdinalIgnoreCase));
}

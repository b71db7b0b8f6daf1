namespace LowLatencyBatcher.Server;

/// <summary>The server's settings, bound from the <c>Embeddings</c> configuration section.</summary>
public sealed class EmbeddingsServerOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Embeddings";

    /// <summary>The model name the server answers with; a request that names another model gets 404.</summary>
    public string Model { get; set; } = "lowlatencybatcher-demo-encoder";

    /// <summary>Where the model runs: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; set; } = "auto";

    /// <summary>The most inputs one request may hold. At least 1.</summary>
    public int MaxInputs { get; set; } = 128;

    /// <summary>The most tokens one input may have; at most the model's sequence length.</summary>
    public int MaxInputTokens { get; set; } = 512;

    /// <summary>The largest request body, in bytes; a larger one gets 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>The <c>Retry-After</c> value, in seconds, sent with a 503 when the queue is full. At least 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;
}

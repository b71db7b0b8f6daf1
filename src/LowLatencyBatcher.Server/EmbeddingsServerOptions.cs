namespace LowLatencyBatcher.Server;

/// <summary>The server's settings, bound from the <c>Embeddings</c> configuration section.</summary>
public sealed class EmbeddingsServerOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Embeddings";

    /// <summary>The real sentence-embedding model, all-MiniLM-L6-v2 (384 dimensions).</summary>
    public const string MiniLmModel = "minilm";

    /// <summary>The demo encoder with random weights: fast, for tests; its vectors mean nothing.</summary>
    public const string DemoModel = "demo";

    /// <summary>ONNX Runtime.</summary>
    public const string OnnxBackend = "onnx";

    /// <summary>TorchSharp, on the CPU or CUDA.</summary>
    public const string TorchBackend = "torch";

    /// <summary>
    /// The model to serve (<c>--model</c>): <c>minilm</c> (default) or <c>demo</c>. Responses and <c>/v1/models</c>
    /// name it (<c>all-MiniLM-L6-v2</c> or <c>lowlatencybatcher-demo-encoder</c>); a request that names another model gets 404.
    /// </summary>
    public string Model { get; set; } = MiniLmModel;

    /// <summary>What runs the model (<c>--backend</c>): <c>torch</c> (default) or <c>onnx</c> (the MiniLM model only).</summary>
    public string Backend { get; set; } = TorchBackend;

    /// <summary>
    /// The folder holding the MiniLM model's <c>model.onnx</c> and <c>vocab.txt</c>; empty (default) for the copy the
    /// build puts next to the server (<c>models/all-MiniLM-L6-v2</c>).
    /// </summary>
    public string ModelDirectory { get; set; } = "";

    /// <summary>Where the TorchSharp backend runs the model: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
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

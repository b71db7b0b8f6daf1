namespace LowLatencyBatcher.Server;

/// <summary>The server's own log messages (category <see cref="Category"/>).</summary>
internal static partial class ServerLog
{
    /// <summary>The category of the server's own messages.</summary>
    public const string Category = "LowLatencyBatcher.Server";

    [LoggerMessage(EventId = 100, EventName = "ModelLoaded", Level = LogLevel.Information,
        Message = "Model {Model} ({Layers} layers, width {Width}, up to {MaxTokens} tokens per input) on device {Device} (Embeddings:Device={Asked}), batches of up to {MaxBatchSize}")]
    public static partial void ModelLoaded(
        ILogger logger, string model, int layers, int width, int maxTokens, string device, string asked, int maxBatchSize);
}

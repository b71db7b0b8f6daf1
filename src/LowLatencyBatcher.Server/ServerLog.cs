namespace LowLatencyBatcher.Server;

/// <summary>The server's own log messages (category <see cref="Category"/>).</summary>
internal static partial class ServerLog
{
    /// <summary>The category of the server's own messages.</summary>
    public const string Category = "LowLatencyBatcher.Server";

    [LoggerMessage(EventId = 100, EventName = "ModelLoaded", Level = LogLevel.Information,
        Message = "Loaded {Model} (Embeddings:Device={Asked}), batches of up to {MaxBatchSize}")]
    public static partial void ModelLoaded(ILogger logger, string model, string asked, string maxBatchSize);
}

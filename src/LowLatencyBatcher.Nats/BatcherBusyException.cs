namespace LowLatencyBatcher.Nats;

/// <summary>Every attempt of an online submit was answered "busy": the workers' batchers had no room.</summary>
public sealed class BatcherBusyException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="attempts">How many attempts were made.</param>
    public BatcherBusyException(int attempts)
        : base($"Every worker that was asked was busy (its batcher's queue was full), {attempts} attempt(s); add workers, raise MaxRetries or slow down.")
    {
        Attempts = attempts;
    }

    /// <summary>How many attempts were made.</summary>
    public int Attempts { get; }
}

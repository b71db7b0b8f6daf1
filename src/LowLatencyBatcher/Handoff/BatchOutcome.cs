namespace LowLatencyBatcher.Handoff;

/// <summary>What the calls of one batch gave, summed over them (several when failure isolation retries it).</summary>
internal struct BatchOutcome
{
    /// <summary>Records completed (with a result or an exception).</summary>
    public int Completed;

    /// <summary>Records completed with an exception.</summary>
    public int Failed;

    /// <summary>The first exception a call gave, for the observer.</summary>
    public Exception? FirstError;

    /// <summary>Counts <paramref name="count"/> records failed with <paramref name="error"/>.</summary>
    public void AddFailures(int count, Exception error)
    {
        Completed += count;
        Failed += count;
        FirstError ??= error;
    }
}

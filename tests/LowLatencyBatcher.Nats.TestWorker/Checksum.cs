namespace LowLatencyBatcher.Nats.TestWorker;

/// <summary>The "model" of the test worker: a checksum of a record's token ids that the tests can recompute.</summary>
public static class Checksum
{
    /// <summary>The sum of each token id times its position plus one.</summary>
    /// <param name="tokens">The record.</param>
    /// <returns>The checksum.</returns>
    public static long Of(IReadOnlyList<int> tokens)
    {
        long sum = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            sum += (long)tokens[i] * (i + 1);
        }

        return sum;
    }
}

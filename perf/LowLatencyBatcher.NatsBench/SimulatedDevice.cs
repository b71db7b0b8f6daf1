using LowLatencyBatcher.Nats;

namespace LowLatencyBatcher.NatsBench;

/// <summary>A device that takes a fixed time per batch (a sleep, so the 2 CPUs are not the limit) and answers each record with its length.</summary>
internal static class SimulatedDevice
{
    /// <summary>A token batcher in front of the simulated device: one batch at a time, as on one accelerator.</summary>
    /// <param name="delayMs">The device's time per batch.</param>
    /// <param name="maxBatch">Records per batch at most.</param>
    /// <param name="queueFullMode">Reject for a worker (its durable path only submits when there is room; online requests get "busy"), Wait in-process.</param>
    public static TokenBatcher<int[], int> Batcher(double delayMs, int maxBatch, QueueFullMode queueFullMode)
    {
        var delay = TimeSpan.FromMilliseconds(delayMs);
        return new TokenBatcher<int[], int>(
            async (batch, cancellationToken) =>
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, cancellationToken);
                }

                var results = new int[batch.Count];
                for (int i = 0; i < results.Length; i++)
                {
                    results[i] = batch[i].Length;
                }

                return results;
            },
            new TokenBatcherOptions<int[]>
            {
                TokenEstimator = record => record.Length,
                TargetBatchTokens = 1 << 20,
                MaxBatchSize = maxBatch,
                BatchTimeout = TimeSpan.FromMilliseconds(5),
                MaxQueueSize = maxBatch * 8,
                Workers = 1,
                QueueFullMode = queueFullMode,
            });
    }

    /// <summary>A record of 8 to 39 token ids.</summary>
    public static int[] Record(long i) => Enumerable.Range(0, 8 + (int)(i % 32)).Select(t => (int)((i + t) % 50_000)).ToArray();

    /// <summary>The codec of the records.</summary>
    public static IBatcherCodec<int[]> Codec => TokenIdsCodec.Instance;
}

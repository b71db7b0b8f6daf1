using LowLatencyBatcher.Nats;

namespace LowLatencyBatcher.NatsBench;

/// <summary>The benchmark's worker process: a simulated device behind a batcher behind a <see cref="BatcherWorker{TRecord, TResult}"/>, without a host.</summary>
internal static class WorkerMode
{
    /// <summary>Runs until standard input closes (the benchmark closes it, or dies).</summary>
    public static async Task<int> RunAsync(string url, string service, string name, double delayMs, int maxBatch)
    {
        await using var batcher = SimulatedDevice.Batcher(delayMs, maxBatch, QueueFullMode.Reject);
        await batcher.StartAsync();
        await using var worker = new BatcherWorker<int[], int>(
            batcher,
            new BatcherWorkerOptions
            {
                Url = url,
                Service = service,
                WorkerId = name,
                MaxInFlight = maxBatch * 4,
                FetchBatch = maxBatch * 2,
            },
            SimulatedDevice.Codec);
        await worker.StartAsync(CancellationToken.None);
        Console.WriteLine("ready");
        // Stops when the benchmark closes our standard input.
        while (await Console.In.ReadLineAsync() is not null)
        {
        }

        await worker.StopAsync(CancellationToken.None);
        await batcher.StopAsync();
        return 0;
    }
}

using Xunit.Abstractions;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>The durable path (JetStream work queue, results stream) against a real server and worker processes.</summary>
[Collection(NatsCollection.Name)]
public sealed class DurableTests(NatsServerFixture fixture, ITestOutputHelper output)
{
    /// <summary>The bulk run's size (see docs/scale-out.md for how long it takes on a small machine).</summary>
    private const int BulkRecords = 100_000;

    private static readonly Dictionary<string, string> FastWorker = new()
    {
        ["TestWorker:DelayMs"] = "1",
        ["Batcher:MaxBatchSize"] = "128",
        ["Batcher:MaxQueueSize"] = "2048",
        ["BatcherWorker:MaxInFlight"] = "1024",
        ["BatcherWorker:FetchBatch"] = "256",
    };

    [Fact]
    public async Task A_bulk_run_through_three_worker_processes_gives_every_record_its_result()
    {
        string service = Records.Service("bulk");
        await using var w1 = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", FastWorker);
        await using var w2 = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w2", FastWorker);
        await using var w3 = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w3", FastWorker);
        await using var client = Records.Client(fixture.Server.Url, service);

        var run = client.SubmitBulk(Enumerable.Range(0, BulkRecords).Select(i => Records.Make(i)));
        var check = await BulkCheck.RunAsync(run, BulkRecords, bound: TimeSpan.FromMinutes(3));

        output.WriteLine($"{BulkRecords} records through 3 workers in {check.Elapsed.TotalSeconds:F1} s ({BulkRecords / check.Elapsed.TotalSeconds:F0} records/s); per worker: {string.Join(", ", check.PerWorker.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}; duplicates {run.Duplicates}");
        Assert.Equal(0, check.Lost);
        Assert.Equal(BulkRecords, check.Correct);
        Assert.Equal(BulkRecords, run.Total);
        Assert.Equal(BulkRecords, run.Received);
        Assert.Equal(0, run.Failed);
        Assert.Equal(["w1", "w2", "w3"], check.PerWorker.Keys.Order());
    }
}

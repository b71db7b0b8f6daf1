using System.Diagnostics;
using Xunit.Abstractions;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Faults in the middle of a bulk run: a worker killed, the NATS server restarted.</summary>
[Collection(NatsCollection.Name)]
public sealed class FaultTests(NatsServerFixture fixture, ITestOutputHelper output)
{
    private const int FaultRecords = 30_000;
    private static readonly TimeSpan AckWait = TimeSpan.FromSeconds(3);

    private static Dictionary<string, string> Worker() => new()
    {
        ["TestWorker:DelayMs"] = "2",
        ["Batcher:MaxBatchSize"] = "64",
        ["Batcher:MaxQueueSize"] = "1024",
        ["BatcherWorker:MaxInFlight"] = "512",
        ["BatcherWorker:FetchBatch"] = "128",
        ["BatcherWorker:AckWait"] = AckWait.ToString(),
    };

    [Fact]
    public async Task A_worker_killed_mid_run_loses_nothing_its_records_are_redelivered_and_duplicates_are_counted()
    {
        string service = Records.Service("sigkill");
        await using var w1 = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", Worker());
        await using var w2 = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w2", Worker());
        await using var victim = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w3", Worker());
        await using var client = Records.Client(fixture.Server.Url, service);

        var run = client.SubmitBulk(Enumerable.Range(0, FaultRecords).Select(i => Records.Make(i)));
        Stopwatch? sinceKill = null;
        int atKill = 0;
        var check = await BulkCheck.RunAsync(run, FaultRecords, async received =>
        {
            if (sinceKill is null && received >= FaultRecords / 3)
            {
                await victim.KillAsync(); // SIGKILL: its fetched, unacknowledged records are stranded until AckWait
                atKill = received;
                sinceKill = Stopwatch.StartNew();
            }
        });

        Assert.NotNull(sinceKill);
        var afterKill = sinceKill.Elapsed;
        var c1 = await w1.StopAsync();
        var c2 = await w2.StopAsync();
        output.WriteLine(
            $"records {FaultRecords}, received {run.Received}, redelivered {run.Redelivered}, duplicates {run.Duplicates}, lost {check.Lost}; "
            + $"killed w3 at {atKill} results; run ended {afterKill.TotalSeconds:F1} s after the kill (AckWait {AckWait.TotalSeconds} s), whole run {check.Elapsed.TotalSeconds:F1} s; "
            + $"per worker: {string.Join(", ", check.PerWorker.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}; "
            + $"survivors saw {c1.Redelivered + c2.Redelivered} redeliveries");

        Assert.Equal(0, check.Lost);
        Assert.Equal(FaultRecords, check.Correct);
        Assert.Equal(FaultRecords, run.Received);
        Assert.True(run.Redelivered > 0, "the killed worker held fetched records; they must come back as redeliveries");
        Assert.True(c1.Redelivered + c2.Redelivered >= run.Redelivered, "every redelivered result was produced by a survivor");
        // Generous bound: AckWait plus the time to process what was left, on a loaded 2-core machine.
        Assert.True(afterKill < AckWait + TimeSpan.FromSeconds(90), $"the run ended {afterKill} after the kill");
    }

    [Fact]
    public async Task A_record_that_kills_every_worker_it_reaches_is_given_up_at_MaxDeliver_with_an_error_and_a_dead_letter()
    {
        string service = Records.Service("poison");
        var settings = new Dictionary<string, string>
        {
            ["BatcherWorker:AckWait"] = "00:00:01",
            ["BatcherWorker:MaxDeliver"] = "2",
            ["Batcher:IsolateFailures"] = "true",
        };
        await using var first = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", settings);
        await using var client = Records.Client(fixture.Server.Url, service);

        // The poison record kills w1; once it is dead, w2 starts and gets the record's second (last) delivery.
        var run = client.SubmitBulk([[int.MinValue, 1]]);
        var outcomes = new Dictionary<long, BulkResult<long>>();
        using var timeout = new CancellationTokenSource(Records.Bound);
        WorkerProcess? second = null;
        try
        {
            var reading = Task.Run(async () =>
            {
                await foreach (var outcome in run.WithCancellation(timeout.Token))
                {
                    outcomes[outcome.Index] = outcome;
                }
            });
            await first.WaitForExitAsync(timeout.Token);
            second = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w2", settings);
            await reading;
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }

        var poison = Assert.IsType<RemoteBatcherException>(outcomes[0].Error);
        Assert.Contains("delivered 2 times (MaxDeliver 2)", poison.Message);
        Assert.Equal("w2", outcomes[0].WorkerId);
        Assert.Equal(2, outcomes[0].Delivery);
        Assert.Equal(1, run.Received);
        Assert.Equal(1, run.Failed);
    }

    [Fact]
    public async Task A_nats_server_restarted_mid_run_and_the_run_resumes_and_completes()
    {
        const int records = 20_000;
        await using var server = await NatsServer.StartAsync();
        string service = Records.Service("restart");
        await using var w1 = await WorkerProcess.StartAsync(server.Url, service, "w1", Worker());
        await using var w2 = await WorkerProcess.StartAsync(server.Url, service, "w2", Worker());
        await using var client = Records.Client(server.Url, service);

        var run = client.SubmitBulk(Enumerable.Range(0, records).Select(i => Records.Make(i)));
        bool restarted = false;
        var check = await BulkCheck.RunAsync(run, records, async received =>
        {
            if (!restarted && received >= records / 4)
            {
                restarted = true;
                await server.StopAsync();
                await Task.Delay(TimeSpan.FromSeconds(1));
                await server.StartAgainAsync(); // same port, same JetStream file store
            }
        });

        output.WriteLine($"records {records}, received {run.Received}, redelivered {run.Redelivered}, duplicates {run.Duplicates}, lost {check.Lost}; run {check.Elapsed.TotalSeconds:F1} s");
        Assert.True(restarted);
        Assert.Equal(0, check.Lost);
        Assert.Equal(records, check.Correct);
        Assert.Equal(records, run.Received);

        // The workers are still serving after the restart.
        await using var online = Records.Client(server.Url, service);
        Assert.Equal(Records.Expected(7), await online.SubmitAsync(Records.Make(7)));
    }
}

using NATS.Client.Core;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>The online path (request-reply with a queue group) against a real server and a worker process.</summary>
[Collection(NatsCollection.Name)]
public sealed class OnlineTests(NatsServerFixture fixture)
{
    [Fact]
    public async Task A_record_goes_round_trip_and_failures_come_back_as_errors()
    {
        string service = Records.Service("online");
        await using var worker = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1");
        await using var client = Records.Client(fixture.Server.Url, service);

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(Records.Expected(i), await client.SubmitAsync(Records.Make(i)));
        }

        // The model's failure reaches the caller with its message.
        var failed = await Assert.ThrowsAsync<RemoteBatcherException>(() => client.SubmitAsync([-1, 2, 3]));
        Assert.Equal(WireHeaders.StatusError, failed.Status);
        Assert.Contains("refuses a record that starts with -1", failed.Message);
        Assert.Equal("w1", failed.WorkerId);

        // A payload the worker's codec cannot read gets a bad-request reply; the worker carries on.
        await using (var raw = new NatsConnection(new NatsOpts { Url = fixture.Server.Url }))
        {
            var reply = await raw.RequestAsync<byte[], byte[]>($"llb.{service}.submit", [1, 2, 3], replyOpts: new NatsSubOpts { Timeout = Records.Bound });
            Assert.Equal(WireHeaders.StatusBadRequest, reply.Headers?[WireHeaders.Status].ToString());
            Assert.Contains("whole number of 4-byte", reply.Headers?[WireHeaders.Error].ToString());
        }

        Assert.Equal(Records.Expected(99), await client.SubmitAsync(Records.Make(99)));
        var counts = await worker.StopAsync();
        Assert.Equal(1, counts.Malformed);
        Assert.Equal(1, counts.Failed);
        Assert.Equal(23, counts.OnlineRequests);
    }

    [Fact]
    public async Task A_full_worker_answers_busy_at_once_and_the_client_retries_until_it_has_room()
    {
        string service = Records.Service("busy");
        // One record at a time, 2 queued at most, 100 ms a batch: 16 records at once cannot all fit.
        await using var worker = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", new Dictionary<string, string>
        {
            ["Batcher:MaxQueueSize"] = "2",
            ["Batcher:MaxBatchSize"] = "1",
            ["Batcher:Workers"] = "1",
            ["Batcher:PrefetchBatches"] = "1",
            ["TestWorker:DelayMs"] = "100",
        });

        await using (var impatient = Records.Client(fixture.Server.Url, service, o => o.MaxRetries = 0))
        {
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
            {
                try
                {
                    return await impatient.SubmitAsync(Records.Make(i)) == Records.Expected(i) ? "ok" : "wrong";
                }
                catch (BatcherBusyException)
                {
                    return "busy";
                }
            }));
            Assert.DoesNotContain("wrong", outcomes);
            Assert.Contains("busy", outcomes);
            Assert.Contains("ok", outcomes);
            Assert.Equal(outcomes.Count(o => o == "busy"), impatient.BusyAnswers);
        }

        await using var patient = Records.Client(fixture.Server.Url, service, o =>
        {
            o.MaxRetries = 200;
            o.RetryDelay = TimeSpan.FromMilliseconds(20);
            o.MaxRetryDelay = TimeSpan.FromMilliseconds(100);
            o.Timeout = Records.Bound;
        });
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => patient.SubmitAsync(Records.Make(i))));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => Records.Expected(i)), results);
        Assert.True(patient.BusyAnswers > 0, "16 records at once into a queue of 2 must meet a busy answer before they are retried");

        var counts = await worker.StopAsync();
        Assert.True(counts.Busy >= patient.BusyAnswers);
    }

    [Fact]
    public async Task With_no_worker_listening_a_submit_fails_after_its_retries_saying_so()
    {
        await using var client = Records.Client(fixture.Server.Url, Records.Service("nobody"), o =>
        {
            o.MaxRetries = 2;
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
        });
        var error = await Assert.ThrowsAsync<TimeoutException>(() => client.SubmitAsync([1, 2, 3]));
        Assert.Contains("no worker is listening", error.Message);
        Assert.Equal(3, client.Attempts);
        Assert.Equal(3, client.NoReplies);
    }

    [Fact]
    public async Task A_cancelled_submit_throws_operation_cancelled()
    {
        string service = Records.Service("cancel");
        await using var worker = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", new Dictionary<string, string>
        {
            ["TestWorker:DelayMs"] = "2000",
        });
        await using var client = Records.Client(fixture.Server.Url, service);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SubmitAsync([1, 2], cancel.Token));
    }
}

using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>Malformed durable messages: answered with an error result or dead-lettered; the worker carries on.</summary>
[Collection(NatsCollection.Name)]
public sealed class MalformedTests(NatsServerFixture fixture)
{
    [Fact]
    public async Task Malformed_work_messages_get_an_error_result_or_a_dead_letter_and_the_worker_carries_on()
    {
        string service = Records.Service("malformed");
        await using var worker = await WorkerProcess.StartAsync(fixture.Server.Url, service, "w1", new Dictionary<string, string>
        {
            ["Batcher:IsolateFailures"] = "true", // a refused record fails alone, not its whole batch
        });
        await using var connection = new NatsConnection(new NatsOpts { Url = fixture.Server.Url });
        var js = new NatsJSContext(connection);
        string stream = $"LLB_{service.ToUpperInvariant().Replace('-', '_')}";

        // Headers fine, payload not token ids: a bad-request result for that record.
        var headers = new NatsHeaders { [WireHeaders.Job] = "job1", [WireHeaders.Index] = "0" };
        (await js.PublishAsync<byte[]>($"llb.{service}.work", [1, 2, 3], headers: headers)).EnsureSuccess();
        // No headers at all: nobody to answer, so a dead letter keeps it.
        (await js.PublishAsync<byte[]>($"llb.{service}.work", [9, 9, 9, 9])).EnsureSuccess();

        var result = Assert.Single(await ReadAsync(js, $"{stream}_RESULTS", $"llb.{service}.results.job1", 1));
        Assert.Equal(WireHeaders.StatusBadRequest, result.Headers?[WireHeaders.Status].ToString());
        Assert.Equal("0", result.Headers?[WireHeaders.Index].ToString());
        Assert.Contains("whole number of 4-byte", result.Headers?[WireHeaders.Error].ToString());

        // Both are kept as dead letters, with the reason.
        var dead = await ReadAsync(js, $"{stream}_RESULTS", $"llb.{service}.dead", 2);
        var headerless = Assert.Single(dead, d => d.Data is [9, 9, 9, 9]);
        Assert.Contains($"without a valid {WireHeaders.Job}", headerless.Headers?[WireHeaders.Error].ToString());
        var unreadable = Assert.Single(dead, d => d.Data is [1, 2, 3]);
        Assert.Contains("whole number of 4-byte", unreadable.Headers?[WireHeaders.Error].ToString());
        Assert.Equal("job1", unreadable.Headers?[WireHeaders.Job].ToString());

        // A record the model refuses comes back as an error result; the others of the run are unaffected.
        await using var client = Records.Client(fixture.Server.Url, service);
        var outcomes = new Dictionary<long, BulkResult<long>>();
        using var timeout = new CancellationTokenSource(Records.Bound);
        await foreach (var outcome in client.SubmitBulk([Records.Make(0), [-5, 1], Records.Make(2)]).WithCancellation(timeout.Token))
        {
            outcomes[outcome.Index] = outcome;
        }

        Assert.Equal(Records.Expected(0), outcomes[0].Value);
        Assert.Equal(Records.Expected(2), outcomes[2].Value);
        var refused = Assert.IsType<RemoteBatcherException>(outcomes[1].Error);
        Assert.Contains("refuses a record that starts with -5", refused.Message);

        var counts = await worker.StopAsync();
        Assert.Equal(2, counts.Malformed);
        Assert.Equal(2, counts.DeadLettered);
    }

    private static async Task<List<INatsJSMsg<byte[]>>> ReadAsync(NatsJSContext js, string stream, string subject, int count)
    {
        var consumer = await js.CreateOrUpdateConsumerAsync(stream, new ConsumerConfig($"peek-{Guid.NewGuid():N}") { FilterSubject = subject, AckPolicy = ConsumerConfigAckPolicy.None });
        using var timeout = new CancellationTokenSource(Records.Bound);
        var messages = new List<INatsJSMsg<byte[]>>();
        while (messages.Count < count)
        {
            var msg = await consumer.NextAsync<byte[]>(cancellationToken: timeout.Token);
            Assert.True(msg is not null, $"only {messages.Count} of {count} message(s) arrived on {subject}");
            messages.Add(msg);
        }

        return messages;
    }
}

using System.Diagnostics.Metrics;
using LowLatencyBatcher.Hosting;
using LowLatencyBatcher.Nats.TestWorker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LowLatencyBatcher.Nats.Tests;

/// <summary>AddBatcherWorker and AddBatcherClient with options from configuration.</summary>
[Collection(NatsCollection.Name)]
public sealed class DependencyInjectionTests(NatsServerFixture fixture)
{
    [Fact]
    public async Task A_host_with_a_batcher_a_worker_and_a_client_from_configuration_serves_both_paths()
    {
        string service = Records.Service("di");
        using var host = Build(new Dictionary<string, string?>
        {
            ["BatcherWorker:Url"] = fixture.Server.Url,
            ["BatcherWorker:Service"] = service,
            ["BatcherWorker:WorkerId"] = "in-process",
            ["BatcherWorker:AckWait"] = "00:00:05",
            ["BatcherClient:Url"] = fixture.Server.Url,
            ["BatcherClient:Service"] = service,
            ["BatcherClient:MaxRetries"] = "3",
        });
        await host.StartAsync();
        var client = host.Services.GetRequiredService<BatcherClient<int[], long>>();
        var worker = host.Services.GetRequiredService<BatcherWorker<int[], long>>();
        Assert.Equal("in-process", worker.WorkerId);

        Assert.Equal(Records.Expected(3), await client.SubmitAsync(Records.Make(3)));
        using var timeout = new CancellationTokenSource(Records.Bound);
        var bulk = new List<BulkResult<long>>();
        await foreach (var result in client.SubmitBulk(Enumerable.Range(0, 50).Select(i => Records.Make(i))).WithCancellation(timeout.Token))
        {
            bulk.Add(result);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => Records.Expected(i)), bulk.OrderBy(r => r.Index).Select(r => r.Value));
        Assert.All(bulk, r => Assert.Equal("in-process", r.WorkerId));
        // The worker's metrics, on its own meter, tagged with its id.
        var seen = new Dictionary<string, long>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == BatcherWorkerMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == BatcherWorkerMetrics.WorkerTag && (string?)tag.Value == "in-process")
                    {
                        seen[instrument.Name] = value;
                    }
                }
            });
            listener.Start();
            listener.RecordObservableInstruments();
        }

        Assert.Equal(1, seen["lowlatencybatcher.worker.online_requests"]);
        Assert.Equal(50, seen["lowlatencybatcher.worker.durable_records"]);
        Assert.Equal(51, seen["lowlatencybatcher.worker.results"]);
        Assert.Equal(0, seen["lowlatencybatcher.worker.busy"]);

        await host.StopAsync();
        Assert.Equal(1, worker.Counts.OnlineRequests);
        Assert.Equal(50, worker.Counts.DurableRecords);
    }

    [Fact]
    public async Task A_bad_option_in_configuration_stops_the_host_at_start_naming_it()
    {
        using var host = Build(new Dictionary<string, string?>
        {
            ["BatcherWorker:Url"] = "localhost:4222",
            ["BatcherWorker:MaxInFlight"] = "-3",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("BatcherWorkerOptions: Url 'localhost:4222' must be an absolute nats://", error.Message);
        Assert.Contains("BatcherWorkerOptions: MaxInFlight must be between 1 and 1000000; it is -3", error.Message);
    }

    private static IHost Build(Dictionary<string, string?> configuration)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton<IBatcherCodec<int[]>>(TokenIdsCodec.Instance);
        builder.Services.AddTokenBatcher<int[], long>(_ => (batch, _) =>
            ValueTask.FromResult<IReadOnlyList<long>>(batch.Select(Checksum.Of).ToArray()), "di");
        builder.Services.AddBatcherWorker<int[], long>().BindConfiguration("BatcherWorker");
        builder.Services.AddBatcherClient<int[], long>().BindConfiguration("BatcherClient");
        return builder.Build();
    }
}

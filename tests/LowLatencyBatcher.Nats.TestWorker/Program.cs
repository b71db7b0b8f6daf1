// A worker process: a token batcher whose "device" pauses TestWorker:DelayMs per batch and answers each record with
// its checksum, behind a BatcherWorker. Everything comes from the command line, for example
//   --BatcherWorker:Url=nats://127.0.0.1:4222 --BatcherWorker:Service=test --Batcher:MaxQueueSize=64 --TestWorker:DelayMs=5
// A record whose first token is negative makes its batch fail; one that starts with int.MinValue kills the process. Prints "ready" once it takes records, and its counts
// as one JSON line ("counts {...}") when it stops (SIGTERM or Ctrl+C).
using System.Text.Json;
using LowLatencyBatcher;
using LowLatencyBatcher.Hosting;
using LowLatencyBatcher.Nats;
using LowLatencyBatcher.Nats.TestWorker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Configuration.AddCommandLine(args);
builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Logging.SetMinimumLevel(LogLevel.Warning);

var delay = TimeSpan.FromMilliseconds(builder.Configuration.GetValue("TestWorker:DelayMs", 2.0));
builder.Services.AddSingleton<IBatcherCodec<int[]>>(TokenIdsCodec.Instance);
builder.Services.AddTokenBatcher<int[], long>(
    _ => async (batch, cancellationToken) =>
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken);
        }

        var results = new long[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i] is [int.MinValue, ..])
            {
                // A record that kills its worker (as a driver crash would): SIGKILL to itself.
                System.Diagnostics.Process.GetCurrentProcess().Kill();
            }

            if (batch[i] is [< 0, ..])
            {
                throw new InvalidOperationException($"the test model refuses a record that starts with {batch[i][0]}");
            }

            results[i] = Checksum.Of(batch[i]);
        }

        return results;
    },
    "worker").BindConfiguration("Batcher");
builder.Services.AddBatcherWorker<int[], long>().BindConfiguration("BatcherWorker");

using var host = builder.Build();
try
{
    await host.StartAsync();
}
catch (Exception error) when (error is OptionsValidationException or ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"test worker: {error.Message}");
    return 2;
}

Console.WriteLine("ready");
await host.WaitForShutdownAsync();
var counts = host.Services.GetRequiredService<BatcherWorker<int[], long>>().Counts;
Console.WriteLine($"counts {JsonSerializer.Serialize(counts)}");
return 0;

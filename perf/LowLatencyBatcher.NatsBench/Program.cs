// Scaling benchmark of the NATS scale-out (docs/scale-out.md has the method and the latest table):
//   records/s of one in-process batcher and of 1, 2 and 3 worker processes over the durable path, each worker with a
//   simulated device (a fixed pause per batch, one batch at a time, so the 2 CPUs are not the limit);
//   the online path's submit → result latency at light load (one caller) against the in-process batcher's, with an
//   instant device, so the difference is the network's cost per record; and the durable path's ceiling with an
//   instant device (what NATS, the client and the worker cost per record).
using System.Diagnostics;
using System.Globalization;
using LowLatencyBatcher.Nats;
using LowLatencyBatcher.NatsBench;

if (args is ["worker", var workerUrl, var workerService, var workerName, var workerDelay, var workerBatch])
{
    return await WorkerMode.RunAsync(
        workerUrl, workerService, workerName, double.Parse(workerDelay, CultureInfo.InvariantCulture), int.Parse(workerBatch, CultureInfo.InvariantCulture));
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine($"natsbench: {error.Message}");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

await using var server = options.Url is null ? await LocalNatsServer.StartAsync() : null;
string url = options.Url ?? server!.Url;
int n = options.Records;
var records = Enumerable.Range(0, n).Select(i => SimulatedDevice.Record(i)).ToArray();
double deviceCeiling = 1000.0 / options.DelayMs * options.MaxBatch;
Console.WriteLine($"Simulated device: {options.DelayMs} ms per batch of up to {options.MaxBatch} records (at most {deviceCeiling:F0} records/s per device); {n} records per run; NATS at {url}.");
Console.WriteLine();
Console.WriteLine("| Setup | records/s | vs in-process | time |");
Console.WriteLine("|---|---:|---:|---:|");

// One in-process batcher in front of one device.
double local;
await using (var batcher = SimulatedDevice.Batcher(options.DelayMs, options.MaxBatch, LowLatencyBatcher.QueueFullMode.Wait))
{
    await batcher.StartAsync();
    await batcher.SubmitManyAsync(records.Take(options.MaxBatch * 2));
    var watch = Stopwatch.StartNew();
    var results = await batcher.SubmitManyAsync(records); // waits for room as a bulk job would
    watch.Stop();
    Check(results.Count == n, "in-process results");
    local = n / watch.Elapsed.TotalSeconds;
    Console.WriteLine($"| in-process batcher, 1 device | {local:F0} | 1.00× | {watch.Elapsed.TotalSeconds:F1} s |");
    await batcher.StopAsync();
}

// 1, 2, 3 worker processes, each with its own batcher and device, over the durable path.
for (int workers = 1; workers <= 3; workers++)
{
    string service = $"bench{workers}-{Guid.NewGuid():N}"[..14];
    await using var processes = await WorkerProcesses.StartAsync(workers, url, service, options.DelayMs, options.MaxBatch);
    await using var client = new BatcherClient<int[], int>(new BatcherClientOptions { Url = url, Service = service }, SimulatedDevice.Codec);
    await DrainAsync(client.SubmitBulk(records.Take(options.MaxBatch * 2 * workers)), options.MaxBatch * 2 * workers);
    var watch = Stopwatch.StartNew();
    var run = client.SubmitBulk(records);
    int received = await DrainAsync(run, n);
    watch.Stop();
    double rate = received / watch.Elapsed.TotalSeconds;
    Console.WriteLine($"| {workers} worker process{(workers > 1 ? "es" : "")} over NATS (durable) | {rate:F0} | {rate / local:F2}× | {watch.Elapsed.TotalSeconds:F1} s |");
}

// Light load, instant device: what the network adds to one record's submit → result.
Console.WriteLine();
Console.WriteLine($"Light load (one caller, {options.LatencySamples} sequential submits, instant device):");
Console.WriteLine();
Console.WriteLine("| Path | p50 | p99 |");
Console.WriteLine("|---|---:|---:|");
double[] inProcess;
await using (var batcher = SimulatedDevice.Batcher(0, options.MaxBatch, LowLatencyBatcher.QueueFullMode.Wait))
{
    await batcher.StartAsync();
    inProcess = await MeasureAsync(options.LatencySamples, i => batcher.SubmitAsync(records[i % n]).AsTask());
    await batcher.StopAsync();
}

Console.WriteLine($"| in-process `SubmitAsync` | {Percentile(inProcess, 50):F1} µs | {Percentile(inProcess, 99):F1} µs |");
double ceiling;
{
    string service = $"lat-{Guid.NewGuid():N}"[..12];
    await using var processes = await WorkerProcesses.StartAsync(1, url, service, 0, options.MaxBatch);
    await using var client = new BatcherClient<int[], int>(new BatcherClientOptions { Url = url, Service = service }, SimulatedDevice.Codec);
    var online = await MeasureAsync(options.LatencySamples, i => client.SubmitAsync(records[i % n]));
    Console.WriteLine($"| online over NATS (request-reply, 1 worker process) | {Percentile(online, 50):F1} µs | {Percentile(online, 99):F1} µs |");
    Console.WriteLine();
    Console.WriteLine($"Network overhead per record at light load (online p50 − in-process p50): {Percentile(online, 50) - Percentile(inProcess, 50):F0} µs.");

    await DrainAsync(client.SubmitBulk(records.Take(1000)), Math.Min(1000, n));
    var watch = Stopwatch.StartNew();
    int received = await DrainAsync(client.SubmitBulk(records), n);
    ceiling = received / watch.Elapsed.TotalSeconds;
}

Console.WriteLine($"Durable path with an instant device (1 worker): {ceiling:F0} records/s, {1e6 / ceiling:F0} µs of NATS, client and worker per record on this machine.");
return 0;

static async Task<int> DrainAsync(BulkRun<int[], int> run, int expected)
{
    int received = 0;
    await foreach (var result in run)
    {
        Check(result.IsSuccess, $"record {result.Index}: {result.Error?.Message}");
        received++;
    }

    Check(received == expected, $"{received} of {expected} results");
    return received;
}

static async Task<double[]> MeasureAsync(int samples, Func<int, Task<int>> submit)
{
    for (int i = 0; i < Math.Min(200, samples); i++)
    {
        await submit(i);
    }

    var micros = new double[samples];
    for (int i = 0; i < samples; i++)
    {
        long start = Stopwatch.GetTimestamp();
        await submit(i);
        micros[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    Array.Sort(micros);
    return micros;
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p / 100))];

static void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException($"natsbench: check failed: {what}");
    }
}

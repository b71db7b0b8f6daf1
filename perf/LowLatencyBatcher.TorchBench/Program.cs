using System.Diagnostics;
using System.Text.Json;
using HdrHistogram;
using LowLatencyBatcher;
using LowLatencyBatcher.CommandLine;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Runner;
using TorchSharp;
using static TorchSharp.torch;

// The demo encoder behind a TokenBatcher on the CPU, closed-loop producers, prefetch off (one worker, one prefetched
// batch: the runner holds one batch at a time) against prefetch on (two workers, two prefetched batches: the runner
// packs and copies batch k+1 while it computes batch k). Runs alternate (off, on, on, off) so drift hits both alike.
// Usage: [--records N] [--producers N] [--out DIR]
// With --padding: the padding benchmark instead (Padding.cs), 2,000 records and 128 producers unless given.
// A bad flag ends the run with one line naming it, and exit code 2.
int? recordsOption = null, producersOption = null;
bool paddingBench = false;
string outDir = "artifacts/perf";
int parsed = await CommandLineTool.RunAsync(() =>
{
    for (int i = 0; i < args.Length; i++)
    {
        string name = args[i];
        switch (name)
        {
            case "--padding": paddingBench = true; break;
            case "--records": recordsOption = FlagValues.Int(name, FlagValues.Next(args, ref i)); break;
            case "--producers": producersOption = FlagValues.Int(name, FlagValues.Next(args, ref i), 1, 4096); break;
            case "--out": outDir = FlagValues.Next(args, ref i); break;
            default: throw new UsageException($"Unknown option '{name}': use --records N, --producers N, --out DIR, --padding.");
        }
    }

    return Task.FromResult(0);
});
if (parsed != 0)
{
    return parsed;
}

if (paddingBench)
{
    TorchNative.EnsureLoaded();
    return await Padding.RunAsync(recordsOption ?? 2_000, producersOption ?? 128, outDir);
}

int records = recordsOption ?? 1_200, producers = producersOption ?? 32;

TorchNative.EnsureLoaded();
const int MaxBatchSize = 32, MinTokens = 8, MaxTokens = 64;
var encoderOptions = new DemoEncoderOptions();
using var encoder = new DemoEncoder(encoderOptions);
using var model = new TimedModel(encoder);
using var runner = new TokenBatchRunner(model, new TokenBatchRunnerOptions
{
    Device = "cpu",
    MaxBatchSize = MaxBatchSize,
    InitialSequenceLength = MaxTokens,
});
Console.WriteLine($"Demo encoder ({encoderOptions.Layers} layers, width {encoderOptions.ModelDimension}) on cpu, {torch.get_num_threads()} torch threads; " +
    $"{records} records of {MinTokens}-{MaxTokens} tokens, {producers} producers, batches of up to {MaxBatchSize}");

var random = new Random(42);
TokenSequence[] prompts = Enumerable.Range(0, records).Select(_ =>
{
    var ids = new int[random.Next(MinTokens, MaxTokens + 1)];
    for (int t = 0; t < ids.Length; t++)
    {
        ids[t] = random.Next(1, encoderOptions.VocabularySize);
    }

    return new TokenSequence(ids);
}).ToArray();
await runner.ProcessAsync(prompts.Take(MaxBatchSize).ToArray()); // untimed: allocator warm-up, kernel selection

var runs = new List<TorchRun>();
foreach (bool prefetch in new[] { false, true, true, false })
{
    runs.Add(await RunAsync(prefetch));
    var r = runs[^1];
    Console.WriteLine($"  prefetch {r.Name,-3}: {r.RecordsPerSecond,8:N0} records/s  model utilization {r.Utilization:P1}  " +
        $"(batcher busy {r.BatcherUtilization:P1})  avg batch {r.AvgBatchSize:F1}  p50 {r.P50Milliseconds:F1} ms  p99 {r.P99Milliseconds:F1} ms");
}

var merged = runs.GroupBy(r => r.Name).Select(g => g.OrderBy(r => r.RecordsPerSecond).Last()).ToList(); // best of two each
double speedup = merged.Single(r => r.Name == "on").RecordsPerSecond / merged.Single(r => r.Name == "off").RecordsPerSecond;
Console.WriteLine($"prefetch on ÷ off (best of two each): {speedup:F2}× records/s");
Directory.CreateDirectory(outDir);
string path = Path.Combine(outDir, "torch.json");
await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new { Records = records, Producers = producers, MaxBatchSize, Speedup = speedup, Runs = merged, AllRuns = runs },
    new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"Wrote {path}");
return 0;

async Task<TorchRun> RunAsync(bool prefetch)
{
    int workers = prefetch ? 2 : 1;
    int prefetched = prefetch ? 2 : 1;
    await using var batcher = new TokenBatcher<TokenSequence, float[]>(runner.ProcessAsync, new TokenBatcherOptions<TokenSequence>
    {
        TargetBatchTokens = MaxBatchSize * MaxTokens,
        MaxBatchSize = MaxBatchSize,
        BatchTimeout = TimeSpan.FromMilliseconds(20),
        Workers = workers,
        PrefetchBatches = prefetched,
    });
    await batcher.StartAsync();
    long busyBefore = Interlocked.Read(ref model.BusyTicks);
    var histograms = new LongHistogram[producers];
    long start = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
    {
        var histogram = histograms[p] = new LongHistogram(60_000_000, 3);
        for (int i = p; i < prompts.Length; i += producers)
        {
            long submitted = Stopwatch.GetTimestamp();
            float[] embedding = await batcher.SubmitAsync(prompts[i]);
            histogram.RecordValue((long)Stopwatch.GetElapsedTime(submitted).TotalMicroseconds);
            if (embedding.Length != encoderOptions.ModelDimension)
            {
                throw new InvalidOperationException($"record {i}: {embedding.Length} values");
            }
        }
    })));
    double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
    double busy = (Interlocked.Read(ref model.BusyTicks) - busyBefore) / (double)Stopwatch.Frequency;
    await batcher.StopAsync();
    var all = new LongHistogram(60_000_000, 3);
    foreach (var h in histograms)
    {
        all.Add(h);
    }

    var stats = batcher.Stats;
    return new TorchRun(prefetch ? "on" : "off", workers, prefetched, prompts.Length / seconds, busy / seconds, stats.Utilization,
        stats.AvgBatchSize, all.GetValueAtPercentile(50) / 1000.0, all.GetValueAtPercentile(99) / 1000.0);
}

internal sealed record TorchRun(
    string Name, int Workers, int PrefetchBatches, double RecordsPerSecond, double Utilization, double BatcherUtilization,
    double AvgBatchSize, double P50Milliseconds, double P99Milliseconds);

/// <summary>Wraps the encoder and adds up the wall time spent in its forward pass (synchronous on the CPU).</summary>
internal sealed class TimedModel : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly DemoEncoder inner;
    public long BusyTicks;

    public TimedModel(DemoEncoder encoder) : base(nameof(TimedModel))
    {
        inner = encoder;
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids, Tensor mask)
    {
        long start = Stopwatch.GetTimestamp();
        Tensor output = inner.forward(ids, mask);
        Interlocked.Add(ref BusyTicks, Stopwatch.GetTimestamp() - start);
        return output;
    }
}

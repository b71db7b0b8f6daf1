using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using LowLatencyBatcher;
using LowLatencyBatcher.ModelBench;
using LowLatencyBatcher.Onnx;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Native;
using LowLatencyBatcher.Torch.Runner;
using TorchSharp;

// all-MiniLM-L6-v2 on the CPU with TorchSharp and with ONNX Runtime. For each backend: one record at a time (one
// caller calls the model directly, a batch of one per call) against the batcher (closed-loop producers →
// TokenBatcher, Padded cost with buckets → the same model). Same records in both; real text, exact token costs.
// Rounds alternate the two modes; each keeps its fastest round.
// Usage: [--records N] [--producers N] [--max-batch-size N] [--rounds N] [--backends torch,onnx] [--out FILE]
int records = 400, producers = 32, maxBatchSize = 32, rounds = 2;
string[] backends = ["torch", "onnx"];
string? outFile = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--records": records = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--producers": producers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--max-batch-size": maxBatchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--rounds": rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--backends": backends = Next().Split(','); break;
        case "--out": outFile = Next(); break;
        default: Console.Error.WriteLine($"Unknown option {args[i]}. Options: --records N --producers N --max-batch-size N --rounds N --backends torch,onnx --out FILE"); return 2;
    }
}

TorchNative.EnsureLoaded();
MiniLmFiles files = MiniLmFiles.Default.EnsureExist();
MiniLmTokenizer tokenizer = MiniLmTokenizer.Load(files.VocabularyPath);
TokenSequence[] prompts = Sentences.Make(tokenizer, records, maxSentences: 8, seed: 7);
long totalTokens = prompts.Sum(p => (long)p.Length);
int[] sorted = prompts.Select(p => p.Length).Order().ToArray();
string header = $"all-MiniLM-L6-v2 on cpu ({Environment.ProcessorCount} cores, {torch.get_num_threads()} torch threads); {records} records, " +
    $"{totalTokens:N0} tokens (mean {totalTokens / (double)records:F1}, p50 {sorted[records / 2]}, p90 {sorted[records * 9 / 10]}, max {sorted[^1]}); " +
    $"batched: {producers} closed-loop producers, batches of up to {maxBatchSize}, Padded cost, buckets 16/32/64/128; best of {rounds} alternating rounds";
Console.WriteLine(header);

var rows = new List<string>();
foreach (string backend in backends)
{
    long load = Stopwatch.GetTimestamp();
    (ProcessFn<TokenSequence, float[]> model, IDisposable owned) = backend switch
    {
        "torch" => Torch(files, maxBatchSize),
        "onnx" => Onnx(files),
        _ => throw new ArgumentException($"--backends takes torch and onnx, not '{backend}'."),
    };
    using IDisposable _ = owned;
    Console.WriteLine($"{backend}: loaded in {Stopwatch.GetElapsedTime(load).TotalMilliseconds:F0} ms");
    await model(prompts.Take(maxBatchSize).ToArray(), CancellationToken.None); // warm-up, untimed

    // Counts real tokens and padded positions (rows × longest row) of every batch the model is given.
    long real = 0, positions = 0;
    ProcessFn<TokenSequence, float[]> process = (batch, cancellationToken) =>
    {
        int longest = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            Interlocked.Add(ref real, batch[i].Length);
            longest = Math.Max(longest, batch[i].Length);
        }

        Interlocked.Add(ref positions, (long)longest * batch.Count);
        return model(batch, cancellationToken);
    };

    // Rounds alternate (one at a time, batcher, batcher, one at a time, …) so drift on a shared machine hits both
    // alike; each mode keeps its fastest round.
    Run? single = null, batched = null;
    double singlePadding = 1, batchedPadding = 1, meanBatch = 0;
    for (int round = 0; round < rounds; round++)
    {
        foreach (bool useBatcher in round % 2 == 0 ? new[] { false, true } : [true, false])
        {
            real = positions = 0;
            if (!useBatcher)
            {
                Run run = await OneAtATimeAsync(process, prompts);
                if (single is null || run.RecordsPerSecond > single.RecordsPerSecond)
                {
                    (single, singlePadding) = (run, (double)real / positions);
                }

                Console.WriteLine($"  {backend} one at a time, round {round + 1}: {run.RecordsPerSecond:F1} records/s");
                continue;
            }

            await using var batcher = new TokenBatcher<TokenSequence, float[]>(process, new TokenBatcherOptions<TokenSequence>
            {
                TargetBatchTokens = 4096,
                MaxBatchSize = maxBatchSize,
                BatchTimeout = TimeSpan.FromMilliseconds(5),
                Workers = 2,
                CostModel = CostModel.Padded,
                CostBuckets = [16, 32, 64, 128],
            });
            await batcher.StartAsync();
            Run result = await BatchedAsync(batcher, prompts, producers);
            await batcher.StopAsync();
            if (batched is null || result.RecordsPerSecond > batched.RecordsPerSecond)
            {
                (batched, batchedPadding, meanBatch) = (result, (double)real / positions, batcher.Stats.AvgBatchSize);
            }

            Console.WriteLine($"  {backend} batcher, round {round + 1}: {result.RecordsPerSecond:F1} records/s");
        }
    }

    rows.Add(Row(backend, "one at a time", single!, singlePadding, meanBatch: 1.0));
    rows.Add(Row(backend, "batcher", batched!, batchedPadding, meanBatch));
    rows.Add($"| {backend} | speed-up | {batched!.RecordsPerSecond / single!.RecordsPerSecond:F2}× | | | | | |");
}

string table = string.Join(Environment.NewLine,
[
    header,
    "",
    "| backend | mode | records/s | tokens/s | mean batch | padding efficiency | p50 ms | p99 ms |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    .. rows,
]);
Console.WriteLine();
Console.WriteLine(table);
if (outFile is not null)
{
    await File.WriteAllTextAsync(outFile, table + Environment.NewLine);
}

return 0;

static (ProcessFn<TokenSequence, float[]>, IDisposable) Torch(MiniLmFiles files, int maxBatchSize)
{
    BertEncoder encoder = BertEncoder.Load(files.ModelPath);
    var runner = new TokenBatchRunner(encoder, new TokenBatchRunnerOptions { Device = "cpu", MaxBatchSize = maxBatchSize });
    return (runner.ProcessAsync, new Owned(runner, encoder));
}

static (ProcessFn<TokenSequence, float[]>, IDisposable) Onnx(MiniLmFiles files)
{
    var runner = new OnnxEmbeddingRunner<TokenSequence>(files.ModelPath, record => record.Ids);
    return (runner.ProcessAsync, runner);
}

static async Task<Run> OneAtATimeAsync(ProcessFn<TokenSequence, float[]> process, TokenSequence[] prompts)
{
    var latency = new LongHistogram(60_000_000, 3);
    long start = Stopwatch.GetTimestamp();
    var one = new TokenSequence[1];
    foreach (TokenSequence prompt in prompts)
    {
        long submitted = Stopwatch.GetTimestamp();
        one[0] = prompt;
        await process(one, CancellationToken.None);
        latency.RecordValue((long)Stopwatch.GetElapsedTime(submitted).TotalMicroseconds);
    }

    return new Run(prompts.Length, prompts.Sum(p => (long)p.Length), Stopwatch.GetElapsedTime(start), latency);
}

static async Task<Run> BatchedAsync(TokenBatcher<TokenSequence, float[]> batcher, TokenSequence[] prompts, int producers)
{
    long start = Stopwatch.GetTimestamp();
    LongHistogram[] perProducer = await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
    {
        var latency = new LongHistogram(60_000_000, 3);
        for (int i = p; i < prompts.Length; i += producers)
        {
            long submitted = Stopwatch.GetTimestamp();
            await batcher.SubmitAsync(prompts[i]);
            latency.RecordValue((long)Stopwatch.GetElapsedTime(submitted).TotalMicroseconds);
        }

        return latency;
    })));
    TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
    var merged = new LongHistogram(60_000_000, 3);
    foreach (LongHistogram histogram in perProducer)
    {
        merged.Add(histogram);
    }

    return new Run(prompts.Length, prompts.Sum(p => (long)p.Length), elapsed, merged);
}

static string Row(string backend, string mode, Run run, double padding, double meanBatch) =>
    $"| {backend} | {mode} | {run.RecordsPerSecond:F1} | {run.TokensPerSecond:N0} | {meanBatch:F1} | {padding * 100:F1} % | " +
    $"{run.Latency.GetValueAtPercentile(50) / 1000.0:F1} | {run.Latency.GetValueAtPercentile(99) / 1000.0:F1} |";

using System.Diagnostics;
using System.Text.Json;
using HdrHistogram;
using LowLatencyBatcher;
using LowLatencyBatcher.Torch;
using LowLatencyBatcher.Torch.Models;
using LowLatencyBatcher.Torch.Runner;

/// <summary>
/// Padding waste on a long-tailed length mix: the same records through the demo encoder on the CPU, batched with
/// <see cref="CostModel.Sum"/> and no buckets (the budget counts real tokens, any lengths share a batch) against
/// <see cref="CostModel.Padded"/> with cost buckets (the budget counts padded positions, similar lengths share a
/// batch); <see cref="CostModel.Padded"/> without buckets in between shows what the cost model does alone. Runs go
/// in a mirrored order (A B C C B A); each configuration keeps its faster run. A fresh runner per run,
/// so its <see cref="TokenBatchRunner.PaddingEfficiency"/> covers that run alone.
/// </summary>
internal static class Padding
{
    public const int MaxBatchSize = 32;
    public const int TargetBatchTokens = 4096;
    public const int MinTokens = 4;
    public const int MaxTokens = 512;
    public const double MedianTokens = 24;
    public const double Sigma = 1.0;
    public static readonly int[] Buckets = [32, 64, 128, 256];

    public static async Task<int> RunAsync(int records, int producers, string outDir)
    {
        var encoderOptions = new DemoEncoderOptions();
        using var encoder = new DemoEncoder(encoderOptions);
        TokenSequence[] prompts = LongTailedPrompts(records, encoderOptions.VocabularySize, seed: 7);
        int[] lengths = prompts.Select(p => p.Length).Order().ToArray();
        long realTotal = lengths.Sum(l => (long)l);
        Console.WriteLine($"Padding: {records} records, lognormal lengths (median {MedianTokens}, σ {Sigma}, clamped to {MinTokens}-{MaxTokens}): " +
            $"mean {realTotal / (double)records:F1}, p50 {lengths[records / 2]}, p90 {lengths[records * 9 / 10]}, p99 {lengths[records * 99 / 100]}, " +
            $"max {lengths[^1]} tokens; {producers} producers, batches of up to {MaxBatchSize}, TargetBatchTokens {TargetBatchTokens}");

        using (var warm = new TokenBatchRunner(encoder, RunnerOptions()))
        {
            await warm.ProcessAsync(prompts.Take(MaxBatchSize).ToArray()); // untimed: allocator warm-up, kernel selection
        }

        var runs = new List<PaddingRun>();
        PaddingConfig[] configs = [PaddingConfig.Sum, PaddingConfig.Padded, PaddingConfig.PaddedBuckets];
        foreach (var config in configs.Concat(configs.Reverse()))
        {
            var r = await RunOnceAsync(encoder, prompts, producers, config);
            runs.Add(r);
            Console.WriteLine($"  {r.Name,-30} padded ÷ real {r.PaddedPerRealToken,5:F2}  {r.RealTokensPerSecond,8:N0} real tokens/s  " +
                $"{r.RecordsPerSecond,6:N0} records/s  {r.Batches,4} batches  avg batch {r.AvgBatchSize,5:F1}  largest tensor {r.LargestBatchPositions,6:N0} positions  " +
                $"p50 {r.P50Milliseconds,6:F1} ms  p99 {r.P99Milliseconds,6:F1} ms  ({r.Seconds:F1} s)");
        }

        var best = runs.GroupBy(r => r.Name).Select(g => g.MaxBy(r => r.RealTokensPerSecond)!).ToList();
        best = best.OrderBy(r => r.Config).ToList();
        var sum = best.Single(r => r.Config == PaddingConfig.Sum);
        var buckets = best.Single(r => r.Config == PaddingConfig.PaddedBuckets);
        Console.WriteLine($"Padded + buckets against Sum: padding waste {buckets.PaddedPerRealToken:F2} against {sum.PaddedPerRealToken:F2} " +
            $"({buckets.PaddedPerRealToken / sum.PaddedPerRealToken:F2}×); real tokens/s {buckets.RealTokensPerSecond / sum.RealTokensPerSecond:F2}× " +
            "(faster run of two each)");

        Directory.CreateDirectory(outDir);
        string path = Path.Combine(outDir, "padding.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new
        {
            Records = records,
            Producers = producers,
            MaxBatchSize,
            TargetBatchTokens,
            Buckets,
            Lengths = new { MedianTokens, Sigma, MinTokens, MaxTokens, Mean = realTotal / (double)records, P50 = lengths[records / 2], P90 = lengths[records * 9 / 10], P99 = lengths[records * 99 / 100], Max = lengths[^1] },
            WasteRatio = buckets.PaddedPerRealToken / sum.PaddedPerRealToken,
            TokensPerSecondRatio = buckets.RealTokensPerSecond / sum.RealTokensPerSecond,
            Runs = best,
            AllRuns = runs,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"Wrote {path}");
        return 0;
    }

    private static TokenBatchRunnerOptions RunnerOptions() => new()
    {
        Device = "cpu",
        MaxBatchSize = MaxBatchSize,
        InitialSequenceLength = MaxTokens,
    };

    /// <summary>Lengths drawn from a lognormal (most prompts short, a few long), clamped; ids uniform. Deterministic per seed.</summary>
    private static TokenSequence[] LongTailedPrompts(int records, int vocabulary, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, records).Select(_ =>
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            int length = Math.Clamp((int)Math.Round(MedianTokens * Math.Exp(Sigma * normal)), MinTokens, MaxTokens);
            var ids = new int[length];
            for (int t = 0; t < length; t++)
            {
                ids[t] = random.Next(1, vocabulary);
            }

            return new TokenSequence(ids);
        }).ToArray();
    }

    private static async Task<PaddingRun> RunOnceAsync(DemoEncoder encoder, TokenSequence[] prompts, int producers, PaddingConfig config)
    {
        using var runner = new TokenBatchRunner(encoder, RunnerOptions());
        long real = 0, positions = 0, largest = 0;
        ValueTask<IReadOnlyList<float[]>> Process(IReadOnlyList<TokenSequence> batch, CancellationToken cancellationToken)
        {
            // Counted here too, as a check on the runner's own figure: real tokens and rows × longest row.
            long tokens = 0, longest = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                tokens += batch[i].Length;
                longest = Math.Max(longest, batch[i].Length);
            }

            Interlocked.Add(ref real, tokens);
            Interlocked.Add(ref positions, longest * batch.Count);
            largest = Math.Max(largest, longest * batch.Count); // one worker: calls never overlap
            return runner.ProcessAsync(batch, cancellationToken);
        }

        await using var batcher = new TokenBatcher<TokenSequence, float[]>(Process, new TokenBatcherOptions<TokenSequence>
        {
            TargetBatchTokens = TargetBatchTokens,
            MaxBatchSize = MaxBatchSize,
            BatchTimeout = TimeSpan.FromMilliseconds(20),
            Workers = 1,
            PrefetchBatches = 1,
            CostModel = config == PaddingConfig.Sum ? CostModel.Sum : CostModel.Padded,
            CostBuckets = config == PaddingConfig.PaddedBuckets ? Buckets : null,
        });
        await batcher.StartAsync();
        var histograms = new LongHistogram[producers];
        long start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var histogram = histograms[p] = new LongHistogram(60_000_000, 3);
            for (int i = p; i < prompts.Length; i += producers)
            {
                long submitted = Stopwatch.GetTimestamp();
                await batcher.SubmitAsync(prompts[i]);
                histogram.RecordValue((long)Stopwatch.GetElapsedTime(submitted).TotalMicroseconds);
            }
        })));
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await batcher.StopAsync();
        var all = new LongHistogram(60_000_000, 3);
        foreach (var h in histograms)
        {
            all.Add(h);
        }

        double waste = 1 / runner.PaddingEfficiency;
        double check = positions / (double)real;
        if (Math.Abs(waste - check) > 1e-9 * check)
        {
            throw new InvalidOperationException($"runner padding {waste} differs from the batches' own count {check}");
        }

        var stats = batcher.Stats;
        return new PaddingRun(
            config switch
            {
                PaddingConfig.Sum => "Sum, no buckets",
                PaddingConfig.Padded => "Padded, no buckets",
                _ => $"Padded, buckets {string.Join('/', Buckets)}",
            },
            config, waste, real / seconds, prompts.Length / seconds, stats.TotalBatches, stats.AvgBatchSize, largest,
            all.GetValueAtPercentile(50) / 1000.0, all.GetValueAtPercentile(99) / 1000.0, seconds,
            new Dictionary<string, long>
            {
                ["full"] = stats.FullBatches,
                ["budget"] = stats.BudgetBatches,
                ["size"] = stats.SizeBatches,
                ["eager"] = stats.EagerBatches,
                ["timeout"] = stats.TimeoutBatches,
                ["shutdown"] = stats.ShutdownBatches,
            });
    }
}

/// <summary>
/// One run: padded positions ÷ real tokens (1 / the runner's PaddingEfficiency), real tokens and records per second
/// of wall time, batches and their average size, the largest padded tensor (rows × longest row), submit → result
/// percentiles, and why the batches were sent.
/// </summary>
internal sealed record PaddingRun(
    string Name, PaddingConfig Config, double PaddedPerRealToken, double RealTokensPerSecond, double RecordsPerSecond, long Batches,
    double AvgBatchSize, long LargestBatchPositions, double P50Milliseconds, double P99Milliseconds, double Seconds,
    Dictionary<string, long> DispatchReasons);

/// <summary>The batching configurations compared.</summary>
internal enum PaddingConfig
{
    /// <summary><see cref="CostModel.Sum"/>, no buckets: the budget counts real tokens.</summary>
    Sum,

    /// <summary><see cref="CostModel.Padded"/>, no buckets: the budget counts padded positions.</summary>
    Padded,

    /// <summary><see cref="CostModel.Padded"/> with <see cref="Padding.Buckets"/>.</summary>
    PaddedBuckets,
}

using System.Text.Json;

namespace LowLatencyBatcher.Harness;

/// <summary>The sizes of the <c>compare</c> command's regimes (all in one place so reports can quote them).</summary>
internal sealed record CompareSettings
{
    public int Rounds { get; init; } = 5;
    public int IdleRecords { get; init; } = 2_000;
    public double IdleSpacingMicroseconds { get; init; } = 1_000;
    public int[] ClosedLoopProducers { get; init; } = [1, 8, 64];
    public Dictionary<int, int> ClosedLoopRecords { get; init; } = new() { [1] = 262_144, [8] = 1_048_576, [64] = 1_048_576 };
    public int[] CpuPerRecordProducers { get; init; } = [8, 64];
    public int PipelinedProducers { get; init; } = 64;
    public int PipelinedDepth { get; init; } = 64;
    public int PipelinedRecords { get; init; } = 1_048_576;
    public int IdleCostRounds { get; init; } = 5;
    public int IdleCostBurstRecords { get; init; } = 50_000;
    public int IdleCostSettleMilliseconds { get; init; } = 200;
    public int IdleCostQuietMilliseconds { get; init; } = 1_000;

    /// <summary>A shorter run: fewer records per run and fewer idle-cost rounds; the same regimes and rules.</summary>
    public CompareSettings Quick() => this with
    {
        IdleRecords = 500,
        ClosedLoopRecords = ClosedLoopRecords.ToDictionary(kv => kv.Key, kv => kv.Value / 4),
        PipelinedRecords = PipelinedRecords / 4,
        IdleCostRounds = Math.Min(Rounds, 3),
    };
}

/// <summary>What <c>compare</c> measured: every regime's rounds, plus the harness's own idle CPU (the floor).</summary>
internal sealed record CompareReport(
    string Machine, DateTimeOffset When, int Cpus, CompareSettings Settings, List<RegimeResult> Results, double IdleCostFloorPercent);

/// <summary>
/// The regimes issue 10 asks the engine to win, the library's <see cref="TokenBatcher{TRecord, TResult}"/> (default
/// options) against the Channel baseline, both with the no-op Echo process function, in interleaved rounds (see
/// <see cref="ContenderPair.RoundsAsync{T}"/>): idle latency, closed loop at 1, 8 and 64 producers (records/s and CPU
/// per record), pipelined, and idle cost.
/// </summary>
internal static class Compare
{
    public static async Task<int> RunAsync(CompareSettings s, string outDir, TextWriter log)
    {
        log.WriteLine($"compare: ours (TokenBatcher, defaults) vs Channel baseline, no-op process function; " +
            $"{s.Rounds} interleaved rounds, order alternating; {Environment.ProcessorCount} CPUs, .NET {Environment.Version}");
        var results = new List<RegimeResult>();
        await using (var pair = await ContenderPair.StartAsync())
        {
            results.AddRange(await IdleLatencyAsync(pair, s.Rounds, s.IdleRecords, TimeSpan.FromMicroseconds(s.IdleSpacingMicroseconds), log));
            foreach (int producers in s.ClosedLoopProducers)
            {
                int records = s.ClosedLoopRecords.GetValueOrDefault(producers, 65_536);
                var (rate, cpu) = await ClosedLoopAsync(pair, s.Rounds, producers, records, log);
                results.Add(rate);
                if (s.CpuPerRecordProducers.Contains(producers))
                {
                    CompareTable.Print(cpu, "F2", log);
                    results.Add(cpu);
                }
            }

            results.AddRange(await PipelinedAsync(pair, s.Rounds, s.PipelinedProducers, s.PipelinedDepth, s.PipelinedRecords, log));
        }

        var (idleCost, floor) = await IdleCostAsync(
            s.IdleCostRounds, s.IdleCostBurstRecords, TimeSpan.FromMilliseconds(s.IdleCostSettleMilliseconds),
            TimeSpan.FromMilliseconds(s.IdleCostQuietMilliseconds), log);
        results.Add(idleCost);

        PrintSummary(results, log);
        var report = new CompareReport(Environment.MachineName, DateTimeOffset.UtcNow, Environment.ProcessorCount, s, results, floor);
        Directory.CreateDirectory(outDir);
        string path = Path.Combine(outDir, "compare.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, Gate.Json));
        log.WriteLine($"Wrote {path}");
        return 0;
    }

    /// <summary>
    /// Idle: p50, p99 and p99.9 of submit → result, one result per percentile, each printed. The warm-up is a second
    /// of the same regime for each contender: with a shorter one the first measured round still showed ms-scale tails.
    /// </summary>
    public static async Task<List<RegimeResult>> IdleLatencyAsync(ContenderPair pair, int rounds, int records, TimeSpan spacing, TextWriter log)
    {
        var (ours, channel) = await pair.RoundsAsync(
            rounds, new IdleLatencyMeasurement(records, spacing), new IdleLatencyMeasurement(1_000, spacing));
        string regime = $"idle ({records:N0} lone records {spacing.TotalMilliseconds:0.###} ms apart)";
        var results = new List<RegimeResult>
        {
            RegimeResult.From(regime, "p50", "µs", false, ours.Select(p => p.P50).ToList(), channel.Select(p => p.P50).ToList()),
            RegimeResult.From(regime, "p99", "µs", false, ours.Select(p => p.P99).ToList(), channel.Select(p => p.P99).ToList()),
            RegimeResult.From(regime, "p99.9", "µs", false, ours.Select(p => p.P999).ToList(), channel.Select(p => p.P999).ToList()),
        };
        results.ForEach(r => CompareTable.Print(r, "F1", log));
        return results;
    }

    /// <summary>Closed loop: records/s (printed) and CPU µs per record (returned; the caller prints the ones it reports).</summary>
    public static async Task<(RegimeResult Rate, RegimeResult Cpu)> ClosedLoopAsync(
        ContenderPair pair, int rounds, int producers, int records, TextWriter log)
    {
        var (ours, channel) = await pair.RoundsAsync(
            rounds, new ClosedLoopMeasurement(producers, records), new ClosedLoopMeasurement(producers, Math.Max(producers, records / 4)));
        string regime = $"closed loop, {producers} producer{(producers == 1 ? "" : "s")} ({records:N0} records)";
        var rate = Rate(regime, ours, channel);
        CompareTable.Print(rate, "F3", log);
        return (rate, Cpu(regime, ours, channel));
    }

    /// <summary>
    /// Pipelined: records/s and CPU µs per record (both printed) with <paramref name="depth"/> records in flight per
    /// producer (sliding window).
    /// </summary>
    public static async Task<RegimeResult[]> PipelinedAsync(ContenderPair pair, int rounds, int producers, int depth, int records, TextWriter log)
    {
        var (ours, channel) = await pair.RoundsAsync(
            rounds, new PipelinedMeasurement(producers, depth, records), new PipelinedMeasurement(producers, depth, records / 4));
        string regime = $"pipelined, {producers} producers × {depth} in flight ({records:N0} records)";
        var rate = Rate(regime, ours, channel);
        var cpu = Cpu(regime, ours, channel);
        CompareTable.Print(rate, "F3", log);
        CompareTable.Print(cpu, "F2", log);
        return [rate, cpu];
    }

    /// <summary>
    /// Idle cost, each contender alone in the process, fresh each round, order alternating; the harness's own floor
    /// (no batcher alive) is measured once after the rounds (so the aftermath of earlier regimes, such as background
    /// JIT, does not land on it) and printed, not subtracted.
    /// </summary>
    public static async Task<(RegimeResult Result, double FloorPercent)> IdleCostAsync(
        int rounds, int burstRecords, TimeSpan settle, TimeSpan quiet, TextWriter log)
    {
        var ours = new List<double>(rounds);
        var channel = new List<double>(rounds);
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < ContenderPair.Both.Length; i++)
            {
                var contender = ContenderPair.Both[(round + i) % ContenderPair.Both.Length];
                double percent = await IdleCost.MeasureAsync(contender, burstRecords, settle, quiet);
                (contender == Contender.TokenBatcher ? ours : channel).Add(percent);
            }
        }

        double floor = await IdleCost.MeasureAsync(null, burstRecords, settle, quiet);
        var result = RegimeResult.From(
            $"idle cost (quiet {quiet.TotalMilliseconds:0} ms, {settle.TotalMilliseconds:0} ms after a {burstRecords:N0}-record burst; each alone)",
            "process CPU", "% of one core", false, ours, channel);
        CompareTable.Print(result, "F2", log);
        log.WriteLine($"  harness floor, no batcher alive: {floor:F2} % of one core (included in both rows above)");
        return (result, floor);
    }

    private static RegimeResult Rate(string regime, List<LoadFigures> ours, List<LoadFigures> channel) =>
        RegimeResult.From(regime, "records/s", "M/s", true,
            ours.Select(f => f.RecordsPerSecond / 1e6).ToList(), channel.Select(f => f.RecordsPerSecond / 1e6).ToList());

    private static RegimeResult Cpu(string regime, List<LoadFigures> ours, List<LoadFigures> channel) =>
        RegimeResult.From(regime, "CPU per record", "µs of process CPU, all threads", false,
            ours.Select(f => f.CpuMicrosecondsPerRecord).ToList(), channel.Select(f => f.CpuMicrosecondsPerRecord).ToList());

    private static void PrintSummary(List<RegimeResult> results, TextWriter log)
    {
        log.WriteLine();
        log.WriteLine("Summary (medians over rounds; ratio = median of per-round ours÷channel):");
        string[] names = results.Select(r => $"{r.Regime.Split(" (")[0]} / {r.Metric} ({r.Unit.Split(',')[0]})").ToArray();
        int width = names.Max(n => n.Length);
        log.WriteLine($"  {"regime / figure".PadRight(width)} {"ours",10} {"channel",10} {"ratio",7}  ahead?");
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            bool ahead = r.HigherIsBetter ? r.RatioMedian > 1 : r.RatioMedian < 1;
            log.WriteLine($"  {names[i].PadRight(width)} {r.OursMedian,10:G4} {r.ChannelMedian,10:G4} {r.RatioMedian,7:F2}  {(ahead ? "ours" : "channel")}");
        }
    }
}

using System.Globalization;
using System.Text.Json;

namespace LowLatencyBatcher.Harness;

/// <summary>The thresholds of the perf gate (perf/perf-gates.json).</summary>
internal sealed record GateConfig
{
    public ThroughputGate Throughput { get; init; } = new();
    public AllocationGate Allocation { get; init; } = new();
    public LatencyGate LightLoadLatency { get; init; } = new();
    public IdleLatencyGate Idle { get; init; } = new();
    public IdleCostGate IdleCost { get; init; } = new();
}

/// <summary>
/// TokenBatcher records/s ÷ Channel-baseline records/s (the median of the per-round ratios of interleaved rounds; the
/// best round over best round is printed beside it), measured at every producer count of <see cref="Producers"/>;
/// gated where <see cref="MinRatioVsChannel"/> sets a floor.
/// </summary>
internal sealed record ThroughputGate
{
    public int Rounds { get; init; } = 9;
    public int[] Producers { get; init; } = [1, 8, 64];
    public Dictionary<string, int> RecordsPerRun { get; init; } = [];
    public Dictionary<string, double> MinRatioVsChannel { get; init; } = [];
}

internal sealed record AllocationGate
{
    public int Producers { get; init; } = 8;
    public int SmallPhase { get; init; } = 20_000;
    public int BigPhase { get; init; } = 120_000;
    public int Attempts { get; init; } = 5;
    public double MaxBytesPerSubmit { get; init; } = 1.0;
}

/// <summary>Eager dispatch, one producer, one record outstanding, no-op process function: the best p99 of a few runs.</summary>
internal sealed record LatencyGate
{
    public int Records { get; init; } = 20_000;
    public int Repetitions { get; init; } = 3;
    public double MaxP99Microseconds { get; init; } = 2_000;
}

/// <summary>
/// The idle regime (one caller, a lone record every <see cref="SpacingMicroseconds"/>, see
/// <see cref="IdleLatencyMeasurement"/>): ours' p50 and p99 ÷ the Channel baseline's, per round, median over the rounds.
/// </summary>
internal sealed record IdleLatencyGate
{
    public int Rounds { get; init; } = 5;
    public int Records { get; init; } = 1_000;
    public double SpacingMicroseconds { get; init; } = 1_000;
    public double MaxIdleP50Ratio { get; init; } = 200;
    public double MaxIdleP99Ratio { get; init; } = 200;
}

/// <summary>
/// Idle cost (see <see cref="Harness.IdleCost"/>): the process CPU of ours alone during a quiet interval after a burst,
/// % of one core, median over the rounds. The Channel baseline is measured too, for reference.
/// </summary>
internal sealed record IdleCostGate
{
    public int Rounds { get; init; } = 3;
    public int BurstRecords { get; init; } = 50_000;
    public int SettleMilliseconds { get; init; } = 200;
    public int QuietMilliseconds { get; init; } = 1_000;
    public double MaxIdleCpuPercent { get; init; } = 10;
}

/// <summary>What one gate run measured and decided.</summary>
internal sealed record GateReport(
    string Machine,
    DateTimeOffset When,
    List<ThroughputResult> Throughput,
    AllocationResult Allocation,
    NoOpLatency LightLoad,
    List<GateVerdict> Verdicts,
    List<RegimeResult>? Idle = null,
    RegimeResult? IdleCost = null,
    double? IdleCostFloorPercent = null);

internal sealed record GateVerdict(string Gate, double Measured, string Rule, double Threshold, bool Passed);

internal static class Gate
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<int> RunAsync(string gatesPath, string? baselinePath, string outDir, bool writeBaseline, TextWriter log)
    {
        var config = JsonSerializer.Deserialize<GateConfig>(await File.ReadAllTextAsync(gatesPath), Json)
            ?? throw new InvalidDataException($"{gatesPath} is empty");
        log.WriteLine($"Perf gate ({gatesPath}): {Environment.ProcessorCount} CPUs, .NET {Environment.Version}");

        var verdicts = new List<GateVerdict>();
        var throughput = new List<ThroughputResult>();
        log.WriteLine($"Throughput, closed loop, no-op process function, {config.Throughput.Rounds} interleaved rounds:");
        foreach (int producers in config.Throughput.Producers)
        {
            string key = producers.ToString(System.Globalization.CultureInfo.InvariantCulture);
            int records = config.Throughput.RecordsPerRun.GetValueOrDefault(key, 65_536);
            var result = await Throughput.RunAsync(
                [Contender.TokenBatcher, Contender.Channel], producers, records, config.Throughput.Rounds, log);
            throughput.Add(result);
            double ratio = result.Contenders.Single(c => c.Name == nameof(Contender.Channel)).OursOverThis!.Value;
            if (config.Throughput.MinRatioVsChannel.TryGetValue(key, out double floor))
            {
                verdicts.Add(new GateVerdict($"closed loop ours÷channel records/s, {producers} producers (median of rounds)", ratio, ">=", floor, ratio >= floor));
            }
        }

        var idleGate = config.Idle;
        log.WriteLine($"Idle latency, one caller, a lone record every {idleGate.SpacingMicroseconds:0} µs, {idleGate.Rounds} interleaved rounds:");
        List<RegimeResult> idle;
        await using (var pair = await ContenderPair.StartAsync())
        {
            idle = await Compare.IdleLatencyAsync(pair, idleGate.Rounds, idleGate.Records, TimeSpan.FromMicroseconds(idleGate.SpacingMicroseconds), log);
        }

        double idleP50Ratio = idle.Single(r => r.Metric == "p50").RatioMedian;
        verdicts.Add(new GateVerdict("idle p50 ours÷channel (median of rounds)", idleP50Ratio, "<=", idleGate.MaxIdleP50Ratio,
            idleP50Ratio <= idleGate.MaxIdleP50Ratio));
        double idleP99Ratio = idle.Single(r => r.Metric == "p99").RatioMedian;
        verdicts.Add(new GateVerdict("idle p99 ours÷channel (median of rounds)", idleP99Ratio, "<=", idleGate.MaxIdleP99Ratio,
            idleP99Ratio <= idleGate.MaxIdleP99Ratio));

        var costGate = config.IdleCost;
        log.WriteLine($"Idle cost, {costGate.Rounds} rounds, each contender alone:");
        var (idleCost, idleFloor) = await Compare.IdleCostAsync(costGate.Rounds, costGate.BurstRecords,
            TimeSpan.FromMilliseconds(costGate.SettleMilliseconds), TimeSpan.FromMilliseconds(costGate.QuietMilliseconds), log);
        verdicts.Add(new GateVerdict("idle cost ours, % of one core (median of rounds)", idleCost.OursMedian, "<=", costGate.MaxIdleCpuPercent,
            idleCost.OursMedian <= costGate.MaxIdleCpuPercent));

        log.WriteLine($"Allocation per submit, {config.Allocation.Producers} producers:");
        var allocation = await Allocation.MeasureAsync(
            Contender.TokenBatcher, config.Allocation.Producers, config.Allocation.SmallPhase, config.Allocation.BigPhase,
            config.Allocation.Attempts, log);
        verdicts.Add(new GateVerdict("bytes allocated per submit", allocation.BytesPerSubmit, "<",
            config.Allocation.MaxBytesPerSubmit, allocation.BytesPerSubmit < config.Allocation.MaxBytesPerSubmit));

        log.WriteLine("Light-load latency, eager dispatch, one producer, one record outstanding:");
        var light = await Latency.NoOpLightLoadAsync(
            Contender.TokenBatcher, config.LightLoadLatency.Records, config.LightLoadLatency.Repetitions, log);
        verdicts.Add(new GateVerdict("light-load p99 (µs)", light.Latency.P99, "<=",
            config.LightLoadLatency.MaxP99Microseconds, light.Latency.P99 <= config.LightLoadLatency.MaxP99Microseconds));

        var report = new GateReport(
            Environment.MachineName, DateTimeOffset.UtcNow, throughput, allocation, light, verdicts, idle, idleCost, idleFloor);
        Directory.CreateDirectory(outDir);
        string reportPath = Path.Combine(outDir, "perf-gate.json");
        await File.WriteAllTextAsync(reportPath, JsonSerializer.Serialize(report, Json));

        log.WriteLine();
        log.WriteLine("| gate | measured | rule | result |");
        log.WriteLine("| --- | ---: | --- | --- |");
        foreach (var v in verdicts)
        {
            log.WriteLine($"| {v.Gate} | {v.Measured:0.###} | {v.Rule} {v.Threshold:0.###} | {(v.Passed ? "pass" : "FAIL")} |");
        }

        if (baselinePath is not null)
        {
            if (writeBaseline)
            {
                await File.WriteAllTextAsync(baselinePath, JsonSerializer.Serialize(report, Json));
                log.WriteLine($"Baseline written to {baselinePath}.");
            }
            else if (File.Exists(baselinePath))
            {
                CompareWithBaseline(JsonSerializer.Deserialize<GateReport>(await File.ReadAllTextAsync(baselinePath), Json)!, report, log);
            }
            else
            {
                log.WriteLine($"No stored baseline at {baselinePath}: nothing to compare with.");
            }
        }

        log.WriteLine($"Report: {reportPath}");
        int failed = verdicts.Count(v => !v.Passed);
        log.WriteLine(failed == 0 ? "Perf gate: all gates passed." : $"Perf gate: {failed} gate(s) FAILED.");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Advisory: absolute figures move between machines and with load; the gates above are what decide.</summary>
    private static void CompareWithBaseline(GateReport baseline, GateReport now, TextWriter log)
    {
        log.WriteLine();
        log.WriteLine($"Against the stored baseline ({baseline.Machine}, {baseline.When:yyyy-MM-dd}); advisory only:");
        log.WriteLine("| figure | baseline | now | change |");
        log.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var result in now.Throughput)
        {
            var old = baseline.Throughput.FirstOrDefault(t => t.Producers == result.Producers);
            foreach (var contender in result.Contenders)
            {
                var was = old?.Contenders.FirstOrDefault(c => c.Name == contender.Name);
                Row($"{contender.Name} records/s, {result.Producers} producers", was?.MedianRecordsPerSecond, contender.MedianRecordsPerSecond, "N0");
                if (contender.BestOursOverThis is double ratio)
                {
                    Row($"ours/{contender.Name} (best rounds), {result.Producers} producers", was?.BestOursOverThis, ratio, "F2");
                }
            }
        }

        Row("bytes per submit", baseline.Allocation.BytesPerSubmit, now.Allocation.BytesPerSubmit, "F3");
        Row("light-load p50 (µs)", baseline.LightLoad.Latency.P50, now.LightLoad.Latency.P50, "F1");
        Row("light-load p99 (µs)", baseline.LightLoad.Latency.P99, now.LightLoad.Latency.P99, "F1");
        Row("light-load p99.9 (µs)", baseline.LightLoad.Latency.P999, now.LightLoad.Latency.P999, "F1");
        foreach (var result in now.Idle ?? [])
        {
            var old = baseline.Idle?.FirstOrDefault(r => r.Metric == result.Metric);
            Row($"idle {result.Metric} ours (µs)", old?.OursMedian, result.OursMedian, "F1");
            Row($"idle {result.Metric} ours÷channel", old?.RatioMedian, result.RatioMedian, "F2");
        }

        if (now.IdleCost is { } cost)
        {
            Row("idle cost ours (% of one core)", baseline.IdleCost?.OursMedian, cost.OursMedian, "F2");
        }

        void Row(string name, double? was, double current, string format) =>
            log.WriteLine($"| {name} | {(was is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a")} | {current.ToString(format, CultureInfo.InvariantCulture)} | {Change(was, current, format)} |");
    }

    /// <summary>
    /// The relative change from <paramref name="was"/> to <paramref name="current"/>, of the figures as printed
    /// (<paramref name="format"/>, for example F3): "n/a" where there is no base (none stored, or one that prints as
    /// zero), so that 0.000 against 0.000 never reads as a change.
    /// </summary>
    internal static string Change(double? was, double current, string format)
    {
        int decimals = format.Length > 1 && int.TryParse(format.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int d) ? d : 0;
        if (was is not double w || !double.IsFinite(w) || !double.IsFinite(current) || Math.Round(w, decimals) == 0)
        {
            return "n/a";
        }

        double shownWas = Math.Round(w, decimals);
        double change = (Math.Round(current, decimals) - shownWas) / Math.Abs(shownWas);
        return change.ToString("+0%;-0%;0%", CultureInfo.InvariantCulture);
    }
}

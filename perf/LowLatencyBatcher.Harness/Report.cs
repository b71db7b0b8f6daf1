using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// Turns the pipeline's results into the charts of docs/perf.md (ScottPlot PNGs) and a Markdown summary
/// (artifacts/perf/summary.md): BenchmarkDotNet's full JSON reports, latency.json, priority.json, torch.json and
/// padding.json, whichever of them exist.
/// </summary>
internal static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Write(string benchDir, string perfDir, string imagesDir, TextWriter log)
    {
        Directory.CreateDirectory(imagesDir);
        Directory.CreateDirectory(perfDir);
        var md = new StringBuilder();
        var rows = ReadBench(benchDir);
        if (rows.Count == 0)
        {
            log.WriteLine($"No BenchmarkDotNet reports under {benchDir}; run the Bench target first for the throughput figures.");
        }

        EndToEnd(rows, md, imagesDir, log);
        Idle(rows, md);
        Rings(rows, "IntakeRingBenchmarks", "IntakeRing", "Producers", "Intake ring (many producers, one consumer)", "intake-ring.png", md, imagesDir, log);
        Rings(rows, "BatchRingBenchmarks", "BatchRing", "Consumers", "Batch ring (one producer, many consumers)", "batch-ring.png", md, imagesDir, log);
        LatencyTables(Path.Combine(perfDir, "latency.json"), md, imagesDir, log);
        PriorityTable(Path.Combine(perfDir, "priority.json"), md, imagesDir, log);
        TorchTable(Path.Combine(perfDir, "torch.json"), md);
        PaddingTable(Path.Combine(perfDir, "padding.json"), md, imagesDir, log);

        string summary = Path.Combine(perfDir, "summary.md");
        File.WriteAllText(summary, md.ToString());
        log.WriteLine($"Wrote {summary}");
        return 0;
    }

    private sealed record BenchRow(string Type, string Method, int Param, double MedianNs, double P95Ns, double BytesPerOp);

    private static List<BenchRow> ReadBench(string dir)
    {
        var rows = new List<BenchRow>();
        if (!Directory.Exists(dir))
        {
            return rows;
        }

        foreach (string file in Directory.GetFiles(dir, "*-report-full.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var b in doc.RootElement.GetProperty("Benchmarks").EnumerateArray())
            {
                if (!b.TryGetProperty("Statistics", out var stats) || stats.ValueKind != JsonValueKind.Object)
                {
                    continue; // a benchmark that failed has no statistics
                }

                string parameter = (b.GetProperty("Parameters").GetString() ?? "").Split('=').Last();
                int param = parameter.Length == 0 ? 0 : int.Parse(parameter, Invariant); // a benchmark without parameters (the idle one): 0
                double bytes = b.TryGetProperty("Memory", out var memory) ? memory.GetProperty("BytesAllocatedPerOperation").GetDouble() : double.NaN;
                double p95 = stats.TryGetProperty("Percentiles", out var percentiles) ? percentiles.GetProperty("P95").GetDouble() : double.NaN;
                rows.Add(new BenchRow(b.GetProperty("Type").GetString()!, b.GetProperty("Method").GetString()!, param,
                    stats.GetProperty("Median").GetDouble(), p95, bytes));
            }
        }

        return rows;
    }

    /// <summary>The idle regime (IdleBenchmarks): one record at a batcher idle for about a millisecond, each iteration one record.</summary>
    private static void Idle(List<BenchRow> all, StringBuilder md)
    {
        var ours = all.FirstOrDefault(r => r.Type == "IdleBenchmarks" && r.Method == "TokenBatcher");
        var channel = all.FirstOrDefault(r => r.Type == "IdleBenchmarks" && r.Method == "ChannelBaseline");
        if (ours is null || channel is null)
        {
            return;
        }

        md.AppendLine("### Idle: a lone record at a batcher idle for about 1 ms, submit → result in an async method (BenchmarkDotNet, µs)").AppendLine();
        md.AppendLine("| batcher | p50 | p95 |");
        md.AppendLine("| --- | ---: | ---: |");
        md.AppendLine(Invariant, $"| TokenBatcher | {ours.MedianNs / 1e3:F1} | {ours.P95Ns / 1e3:F1} |");
        md.AppendLine(Invariant, $"| Channel + TCS | {channel.MedianNs / 1e3:F1} | {channel.P95Ns / 1e3:F1} |");
        md.AppendLine(Invariant, $"| ours ÷ Channel | {ours.MedianNs / channel.MedianNs:F2} | {ours.P95Ns / channel.P95Ns:F2} |");
        md.AppendLine();
    }

    private static void EndToEnd(List<BenchRow> all, StringBuilder md, string imagesDir, TextWriter log)
    {
        var rows = all.Where(r => r.Type == "EndToEndBenchmarks").ToList();
        if (rows.Count == 0)
        {
            return;
        }

        string[] methods = ["TokenBatcher", "ChannelBaseline", "DataflowBaseline"];
        int[] producers = rows.Select(r => r.Param).Distinct().Order().ToArray();
        md.AppendLine("### End to end (no-op process function, closed loop; BenchmarkDotNet medians)").AppendLine();
        md.AppendLine("| producers | TokenBatcher | Channel + TCS | Dataflow BatchBlock | ours ÷ Channel | ours ÷ Dataflow | bytes/record (ours / Channel / Dataflow) |");
        md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (int p in producers)
        {
            BenchRow? Get(string m) => rows.FirstOrDefault(r => r.Method == m && r.Param == p);
            double Rate(BenchRow? r) => r is null ? double.NaN : 1e9 / r.MedianNs;
            var (ours, channel, dataflow) = (Get(methods[0]), Get(methods[1]), Get(methods[2]));
            md.AppendLine(Invariant, $"| {p} | {Rate(ours) / 1e6:F3} M/s | {Rate(channel) / 1e6:F3} M/s | {Rate(dataflow) / 1e6:F3} M/s | " +
                $"{Rate(ours) / Rate(channel):F2} | {Rate(ours) / Rate(dataflow):F2} | {ours?.BytesPerOp:0} / {channel?.BytesPerOp:0} / {dataflow?.BytesPerOp:0} |");
        }

        md.AppendLine();
        var plot = new Plot();
        string[] labels = ["TokenBatcher", "Channel + TaskCompletionSource", "Dataflow BatchBlock"];
        for (int i = 0; i < methods.Length; i++)
        {
            var series = producers.Select(p => rows.FirstOrDefault(r => r.Method == methods[i] && r.Param == p)).ToArray();
            double[] xs = Enumerable.Range(0, producers.Length).Select(x => (double)x).ToArray();
            double[] ys = series.Select(r => r is null ? double.NaN : 1e9 / r.MedianNs / 1e6).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = labels[i];
            scatter.MarkerSize = 9;
            scatter.LineWidth = 2;
        }

        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, producers.Length).Select(x => (double)x).ToArray(), producers.Select(p => p.ToString(Invariant)).ToArray());
        plot.Axes.SetLimitsY(0, double.NaN);
        Finish(plot, "End to end: records/s vs concurrent producers (no-op process function)", "concurrent producers (one record in flight each)", "million records / s");
        Save(plot, imagesDir, "throughput-end-to-end.png", log);
    }

    private static void Rings(
        List<BenchRow> all, string type, string ours, string paramName, string title, string image, StringBuilder md, string imagesDir, TextWriter log)
    {
        var rows = all.Where(r => r.Type == type).ToList();
        if (rows.Count == 0)
        {
            return;
        }

        string[] methods = [ours, "BoundedChannel", "ConcurrentQueue", "BlockingCollection"];
        int[] threads = rows.Select(r => r.Param).Distinct().Order().ToArray();
        md.AppendLine(Invariant, $"### {title}, million items/s (BenchmarkDotNet medians)").AppendLine();
        md.AppendLine($"| {paramName.ToLowerInvariant()} | " + string.Join(" | ", methods) + $" | {ours} ÷ best other |");
        md.AppendLine("| ---: |" + string.Concat(Enumerable.Repeat(" ---: |", methods.Length + 1)));
        foreach (int t in threads)
        {
            double[] rates = methods.Select(m => rows.FirstOrDefault(r => r.Method == m && r.Param == t) is { } r ? 1e3 / r.MedianNs : double.NaN).ToArray();
            double bestOther = rates.Skip(1).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
            md.AppendLine($"| {t} | " + string.Join(" | ", rates.Select(r => r.ToString("F1", Invariant))) + " | " + (rates[0] / bestOther).ToString("F2", Invariant) + " |");
        }

        md.AppendLine();
        var plot = new Plot();
        double width = 0.8 / methods.Length;
        for (int i = 0; i < methods.Length; i++)
        {
            var bars = threads.Select((t, x) => new Bar
            {
                Position = x + (i - (methods.Length - 1) / 2.0) * width,
                Value = rows.FirstOrDefault(r => r.Method == methods[i] && r.Param == t) is { } r ? 1e3 / r.MedianNs : 0,
                Size = width * 0.95,
                FillColor = plot.Add.Palette.GetColor(i),
            }).ToArray();
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = methods[i];
        }

        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, threads.Length).Select(x => (double)x).ToArray(), threads.Select(t => t.ToString(Invariant)).ToArray());
        plot.Axes.Margins(bottom: 0);
        Finish(plot, title, paramName.ToLowerInvariant(), "million items / s");
        plot.ShowLegend(Edge.Right); // outside the data: the bars reach the top-left corner
        Save(plot, imagesDir, image, log);
    }

    private static void LatencyTables(string path, StringBuilder md, string imagesDir, TextWriter log)
    {
        if (!File.Exists(path))
        {
            log.WriteLine($"No {path}; run the latency harness for the latency figures.");
            return;
        }

        var report = JsonSerializer.Deserialize<LatencyReport>(File.ReadAllText(path), Gate.Json)!;
        var s = report.Settings;
        md.AppendLine("### Light load, no-op process function (one producer, one record outstanding), µs").AppendLine();
        md.AppendLine("| batcher | p50 | p99 | p99.9 | max |").AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var n in report.NoOp)
        {
            md.AppendLine(Invariant, $"| {n.Name} | {n.Latency.P50:F1} | {n.Latency.P99:F1} | {n.Latency.P999:F1} | {n.Latency.Max:F1} |");
        }

        md.AppendLine().AppendLine(Invariant,
            $"### Submit → result on a simulated device ({s.DeviceFixedMicroseconds:0} µs + {s.DevicePerRecordMicroseconds:0} µs per record, batches of up to {s.MaxBatchSize}; wait-to-fill timeout {s.WaitToFillTimeoutMilliseconds:0} ms; saturation {report.SaturationRecordsPerSecond:N0} records/s), ms").AppendLine();
        md.AppendLine("| dispatch | load | offered records/s | p50 | p99 | p99.9 | max |").AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var l in report.Loads)
        {
            md.AppendLine(Invariant, $"| {l.Mode} | {l.Load} | {(l.OfferedRecordsPerSecond > 0 ? l.OfferedRecordsPerSecond.ToString("N0", Invariant) : "closed loop")} | " +
                $"{l.Latency.P50 / 1000:F2} | {l.Latency.P99 / 1000:F2} | {l.Latency.P999 / 1000:F2} | {l.Latency.Max / 1000:F2} |");
        }

        md.AppendLine().AppendLine("### Wait-to-fill: dispatch after `BatchTimeout` (first submit + timeout → process function called), µs").AppendLine();
        md.AppendLine("| BatchTimeout | batches | p50 late | p99 late | max late | early |").AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var d in report.Dispatch)
        {
            md.AppendLine(Invariant, $"| {d.TimeoutMilliseconds} ms | {d.Lateness.Count} | {d.Lateness.P50:F0} | {d.Lateness.P99:F0} | {d.Lateness.Max:F0} | {d.Early} |");
        }

        md.AppendLine();
        var plot = new Plot();
        string[] names = ["p50", "p99", "p99.9"];
        var loads = report.Loads;
        double width = 0.8 / names.Length;
        for (int i = 0; i < names.Length; i++)
        {
            var bars = loads.Select((l, x) => new Bar
            {
                Position = x + (i - 1) * width,
                Value = (i switch { 0 => l.Latency.P50, 1 => l.Latency.P99, _ => l.Latency.P999 }) / 1000,
                Size = width * 0.95,
                FillColor = plot.Add.Palette.GetColor(i),
            }).ToArray();
            plot.Add.Bars(bars).LegendText = names[i];
        }

        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, loads.Count).Select(x => (double)x).ToArray(),
            loads.Select(l => $"{l.Mode}\n{l.Load.Replace(" of saturation", " sat.", StringComparison.Ordinal).Replace(" (1 outstanding)", "", StringComparison.Ordinal)}").ToArray());
        plot.Axes.Margins(bottom: 0);
        Finish(plot, $"Submit → result latency, simulated device ({s.DeviceFixedMicroseconds / 1000:0.#} ms + {s.DevicePerRecordMicroseconds:0} µs/record)", "dispatch mode and load", "milliseconds");
        Save(plot, imagesDir, "latency-percentiles.png", log);
    }

    private static void PriorityTable(string path, StringBuilder md, string imagesDir, TextWriter log)
    {
        if (!File.Exists(path))
        {
            log.WriteLine($"No {path}; run the priority harness for the priority figures.");
            return;
        }

        var report = JsonSerializer.Deserialize<PriorityReport>(File.ReadAllText(path), Gate.Json)!;
        var s = report.Settings;
        var alone = report.Results[0];
        md.AppendLine(Invariant,
            $"### Priority lanes under overload (simulated device {s.DeviceFixedMicroseconds:0} µs + {s.DevicePerRecordMicroseconds:0} µs per record, " +
            $"full batch of {s.MaxBatchSize} = {report.FullBatchMilliseconds:F2} ms, capacity {report.DeviceCapacityRecordsPerSecond:N0} records/s; " +
            $"bulk offered at {report.BulkOfferedRecordsPerSecond:N0} records/s, MaxQueueSize {s.MaxQueueSize}; urgent {s.ProbeRecordsPerSecond:N0} records/s; " +
            $"best of {s.Rounds} rounds), ms").AppendLine();
        md.AppendLine("| scenario | urgent p50 | urgent p99 | urgent p99.9 | urgent max | p99 ÷ alone | bulk done/s | bulk p50 | bulk p99 | bulk shed | worker busy |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in report.Results)
        {
            string bulk = r.Bulk is { } b
                ? $"{r.BulkCompletedPerSecond.ToString("N0", Invariant)} | {(b.P50 / 1000).ToString("F1", Invariant)} | {(b.P99 / 1000).ToString("F1", Invariant)} | {r.BulkShedFraction.ToString("P0", Invariant)}"
                : "– | – | – | –";
            md.AppendLine(Invariant, $"| {r.Scenario.Name} | {r.Urgent.P50 / 1000:F2} | {r.Urgent.P99 / 1000:F2} | {r.Urgent.P999 / 1000:F2} | {r.Urgent.Max / 1000:F2} | " +
                $"{r.Urgent.P99 / alone.Urgent.P99:F2} | {bulk} | {r.WorkerUtilization.ToString("P1", Invariant)} |");
        }

        md.AppendLine();
        var plot = new Plot();
        string[] names = ["p50", "p99", "p99.9"];
        double width = 0.8 / names.Length;
        for (int i = 0; i < names.Length; i++)
        {
            var bars = report.Results.Select((r, x) => new Bar
            {
                Position = x + (i - 1) * width,
                Value = (i switch { 0 => r.Urgent.P50, 1 => r.Urgent.P99, _ => r.Urgent.P999 }) / 1000,
                Size = width * 0.95,
                FillColor = plot.Add.Palette.GetColor(i),
            }).ToArray();
            plot.Add.Bars(bars).LegendText = names[i];
        }

        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, report.Results.Count).Select(x => (double)x).ToArray(),
            report.Results.Select(r => r.Scenario.Name.Replace(", ", "\n", StringComparison.Ordinal)).ToArray());
        plot.Axes.Margins(bottom: 0);
        Finish(plot, "Urgent records' submit → result latency while bulk records saturate the worker", "scenario", "milliseconds");
        Save(plot, imagesDir, "priority-lanes.png", log);
    }

    private static void PaddingTable(string path, StringBuilder md, string imagesDir, TextWriter log)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var lengths = root.GetProperty("Lengths");
        md.AppendLine(Invariant,
            $"### Padding on a long-tailed length mix (TorchSharp runner on CPU, demo encoder; {root.GetProperty("Records").GetInt32():N0} records, " +
            $"lognormal lengths: mean {lengths.GetProperty("Mean").GetDouble():F1}, p50 {lengths.GetProperty("P50").GetInt32()}, p90 {lengths.GetProperty("P90").GetInt32()}, " +
            $"p99 {lengths.GetProperty("P99").GetInt32()}, max {lengths.GetProperty("Max").GetInt32()} tokens; {root.GetProperty("Producers").GetInt32()} closed-loop producers; " +
            $"batches of up to {root.GetProperty("MaxBatchSize").GetInt32()}, TargetBatchTokens {root.GetProperty("TargetBatchTokens").GetInt32():N0}; faster of two runs each)").AppendLine();
        md.AppendLine("| batching | padded ÷ real tokens | real tokens/s | tokens/s ÷ Sum | records/s | batches | avg batch | largest tensor (positions) | p50 ms | p99 ms |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var runs = root.GetProperty("Runs").EnumerateArray().ToList();
        double sumRate = runs[0].GetProperty("RealTokensPerSecond").GetDouble();
        foreach (var run in runs)
        {
            double rate = run.GetProperty("RealTokensPerSecond").GetDouble();
            md.AppendLine(Invariant,
                $"| {run.GetProperty("Name").GetString()} | {run.GetProperty("PaddedPerRealToken").GetDouble():F2} | {rate:N0} | {rate / sumRate:F2} | " +
                $"{run.GetProperty("RecordsPerSecond").GetDouble():N0} | {run.GetProperty("Batches").GetInt64()} | {run.GetProperty("AvgBatchSize").GetDouble():F1} | " +
                $"{run.GetProperty("LargestBatchPositions").GetInt64():N0} | {run.GetProperty("P50Milliseconds").GetDouble():F1} | {run.GetProperty("P99Milliseconds").GetDouble():F1} |");
        }

        md.AppendLine();
        var plot = new Plot();
        var bars = runs.Select((run, x) => new Bar
        {
            Position = x,
            Value = run.GetProperty("RealTokensPerSecond").GetDouble() / 1000,
            Size = 0.6,
            FillColor = plot.Add.Palette.GetColor(x),
            Label = $"{run.GetProperty("PaddedPerRealToken").GetDouble().ToString("F2", Invariant)} padded ÷ real",
        }).ToArray();
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks(
            Enumerable.Range(0, runs.Count).Select(x => (double)x).ToArray(),
            runs.Select(r => r.GetProperty("Name").GetString()!).ToArray());
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.Title("TorchSharp runner on CPU, long-tailed lengths: real tokens/s by batching rule");
        plot.XLabel("cost model and buckets");
        plot.YLabel("thousand real tokens / s");
        Save(plot, imagesDir, "padding.png", log);
    }

    private static void TorchTable(string path, StringBuilder md)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        md.AppendLine("### TorchSharp runner on CPU (demo encoder)").AppendLine();
        md.AppendLine("| prefetch | workers | prefetched batches | records/s | model utilization | avg batch | p50 ms | p99 ms |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var run in doc.RootElement.GetProperty("Runs").EnumerateArray())
        {
            md.AppendLine(Invariant,
                $"| {run.GetProperty("Name").GetString()} | {run.GetProperty("Workers").GetInt32()} | {run.GetProperty("PrefetchBatches").GetInt32()} | " +
                $"{run.GetProperty("RecordsPerSecond").GetDouble():N0} | {run.GetProperty("Utilization").GetDouble():P1} | {run.GetProperty("AvgBatchSize").GetDouble():F1} | " +
                $"{run.GetProperty("P50Milliseconds").GetDouble():F1} | {run.GetProperty("P99Milliseconds").GetDouble():F1} |");
        }

        md.AppendLine();
    }

    private static void Finish(Plot plot, string title, string x, string y)
    {
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend(Alignment.UpperLeft);
    }

    private static void Save(Plot plot, string dir, string name, TextWriter log)
    {
        string path = Path.Combine(dir, name);
        plot.SavePng(path, 900, 520);
        log.WriteLine($"Wrote {path}");
    }
}

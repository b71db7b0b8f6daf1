using System.Globalization;
using Spectre.Console;

namespace LowLatencyBatcher.Demo;

/// <summary>Prints the run's figures as a table.</summary>
internal static class ReportTable
{
    public static void Write(LoadResult load, BatchStats stats, double paddingEfficiency, string deviceDescription, string batching)
    {
        double seconds = load.Elapsed.TotalSeconds;
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]LowLatencyBatcher demo[/]");
        table.AddColumn("Metric");
        table.AddColumn(new TableColumn("Value").RightAligned());

        void Row(string metric, string value) => table.AddRow(Markup.Escape(metric), Markup.Escape(value));
        static string Number(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
        static string Ms(long micros) => Number(micros / 1000.0, "N1") + " ms";

        Row("Device", deviceDescription);
        Row("Batching", batching);
        Row("Records", Number(load.Records, "N0"));
        Row("Tokens", Number(load.Tokens, "N0"));
        Row("Wall time", Number(seconds, "N2") + " s");
        Row("Records/s", Number(load.Records / seconds, "N1"));
        Row("Tokens/s", Number(load.Tokens / seconds, "N0"));
        Row("Batches", Number(stats.TotalBatches, "N0"));
        Row("Avg batch size", Number(stats.AvgBatchSize, "N1") + " records");
        Row("Avg batch cost", Number(stats.AvgBatchCost, "N0") + " tokens");
        Row("Batches sent", $"full {stats.FullBatches}, budget {stats.BudgetBatches}, size {stats.SizeBatches}, " +
            $"eager {stats.EagerBatches}, timeout {stats.TimeoutBatches}, shutdown {stats.ShutdownBatches}");
        Row("Padding efficiency", Number(paddingEfficiency * 100, "N1") + " %");
        Row("Model utilization", Number(stats.Utilization * 100, "N1") + " %");
        Row("Latency p50", Ms(load.LatencyMicroseconds.GetValueAtPercentile(50)));
        Row("Latency p95", Ms(load.LatencyMicroseconds.GetValueAtPercentile(95)));
        Row("Latency p99", Ms(load.LatencyMicroseconds.GetValueAtPercentile(99)));
        AnsiConsole.Write(table);
    }
}

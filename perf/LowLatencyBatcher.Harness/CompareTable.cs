using System.Globalization;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// One figure of one regime, ours against the Channel baseline: every round's value, the medians, and ours ÷ Channel
/// taken within each round, then its median. <see cref="HigherIsBetter"/> says which way the ratio favours ours.
/// </summary>
internal sealed record RegimeResult(
    string Regime,
    string Metric,
    string Unit,
    bool HigherIsBetter,
    List<double> Ours,
    List<double> Channel,
    double OursMedian,
    double ChannelMedian,
    List<double> RatioPerRound,
    double RatioMedian)
{
    public static RegimeResult From(string regime, string metric, string unit, bool higherIsBetter, List<double> ours, List<double> channel)
    {
        var ratios = ours.Zip(channel, (o, c) => o / c).ToList();
        return new RegimeResult(regime, metric, unit, higherIsBetter, ours, channel,
            Measure.Median(ours), Measure.Median(channel), ratios, Measure.Median(ratios));
    }
}

/// <summary>Prints a <see cref="RegimeResult"/> as a small fixed-width table: one column per round, then the median.</summary>
internal static class CompareTable
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Print(RegimeResult r, string format, TextWriter log)
    {
        string better = r.HigherIsBetter ? "higher is better; ratio > 1: ours ahead" : "lower is better; ratio < 1: ours ahead";
        log.WriteLine($"{r.Regime}: {r.Metric}, {r.Unit} ({better})");
        string rounds = string.Concat(Enumerable.Range(1, r.Ours.Count).Select(i => $"{"r" + i,9}"));
        log.WriteLine($"  {"",-13}{rounds} | {"median",9}");
        Row("ours", r.Ours, r.OursMedian, format);
        Row("channel", r.Channel, r.ChannelMedian, format);
        Row("ours÷channel", r.RatioPerRound, r.RatioMedian, "F2");

        void Row(string name, List<double> values, double median, string f) =>
            log.WriteLine($"  {name,-13}{string.Concat(values.Select(v => $"{Cell(v, f),9}"))} | {Cell(median, f),9}");
    }

    private static string Cell(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, Invariant) : (double.IsNaN(value) ? "n/a" : "inf");
}

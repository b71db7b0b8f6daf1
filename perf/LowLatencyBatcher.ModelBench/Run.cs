using HdrHistogram;

namespace LowLatencyBatcher.ModelBench;

/// <summary>What one run measured.</summary>
internal sealed record Run(int Records, long Tokens, TimeSpan Elapsed, LongHistogram Latency)
{
    public double RecordsPerSecond => Records / Elapsed.TotalSeconds;

    public double TokensPerSecond => Tokens / Elapsed.TotalSeconds;
}

using System.Diagnostics;
using HdrHistogram;
using LowLatencyBatcher.Torch;

namespace LowLatencyBatcher.Demo;

/// <summary>What one load run measured.</summary>
internal sealed record LoadResult(long Records, long Tokens, TimeSpan Elapsed, HistogramBase LatencyMicroseconds);

/// <summary>
/// Drives a batcher with closed-loop producers: each submits one prompt, awaits its embedding, then submits the
/// next, so the number of records in flight equals the number of producers.
/// </summary>
internal sealed class LoadGenerator(TokenBatcher<TokenSequence, float[]> batcher, TokenSequence[] prompts, int producers)
{
    private const long HighestLatencyMicroseconds = 10L * 60 * 1_000_000;
    private long _completed;

    /// <summary>Records completed so far.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public async Task<LoadResult> RunAsync()
    {
        long start = Stopwatch.GetTimestamp();
        var tasks = new Task<LongHistogram>[producers];
        for (int p = 0; p < producers; p++)
        {
            int first = p;
            tasks[p] = Task.Run(() => ProduceAsync(first));
        }
        LongHistogram[] perProducer = await Task.WhenAll(tasks);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);

        var latency = new LongHistogram(HighestLatencyMicroseconds, 3);
        foreach (LongHistogram histogram in perProducer)
        {
            latency.Add(histogram);
        }

        long tokens = prompts.Sum(prompt => (long)prompt.Length);
        return new LoadResult(prompts.Length, tokens, elapsed, latency);
    }

    private async Task<LongHistogram> ProduceAsync(int first)
    {
        // One histogram per producer: HdrHistogram's LongHistogram is not thread-safe; they are merged at the end.
        var latency = new LongHistogram(HighestLatencyMicroseconds, 3);
        for (int i = first; i < prompts.Length; i += producers)
        {
            long submitted = Stopwatch.GetTimestamp();
            float[] embedding = await batcher.SubmitAsync(prompts[i]);
            long micros = (long)Stopwatch.GetElapsedTime(submitted).TotalMicroseconds;
            latency.RecordValue(Math.Min(micros, HighestLatencyMicroseconds));
            if (embedding.Length == 0)
            {
                throw new InvalidOperationException($"Record {i} came back empty.");
            }

            Interlocked.Increment(ref _completed);
        }
        return latency;
    }
}

using System.Diagnostics;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>The batchers compared end to end.</summary>
internal enum Contender
{
    TokenBatcher,
    Channel,
    Dataflow,
}

/// <summary>
/// Closed-loop throughput of the three batchers (no-op process function, same knobs), measured in interleaved
/// rounds: every round runs each contender once, in an order that rotates, so a burst of noise from the rest of the
/// machine lands on all of them alike. Ratios are taken within a round, then their median over the rounds.
/// </summary>
internal sealed class Throughput : IAsyncDisposable
{
    /// <summary>The least time each contender runs unmeasured before the rounds.</summary>
    public static readonly TimeSpan WarmUp = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Runs <paramref name="run"/> again and again, unmeasured, until at least <paramref name="least"/> has passed (JIT
    /// tiers, pools, pool threads). The runtime moves hot methods to their optimized tier only after 100 ms without new
    /// tier-0 activity: a fixed, shorter warm-up left the first measured rounds running tier-0 code.
    /// </summary>
    public static async Task WarmUpAsync(TimeSpan least, Func<Task> run)
    {
        long start = Stopwatch.GetTimestamp();
        do
        {
            await run();
        }
        while (Stopwatch.GetElapsedTime(start) < least);
    }

    private TokenBatcher<int, int>? _ours;
    private ChannelBatcher<int, int>? _channel;
    private DataflowBatcher<int, int>? _dataflow;

    public static async Task<ThroughputResult> RunAsync(
        IReadOnlyList<Contender> contenders, int producers, int records, int rounds, TextWriter log)
    {
        await using var runner = new Throughput();
        foreach (var contender in contenders)
        {
            await runner.StartAsync(contender);
            await WarmUpAsync(WarmUp, () => runner.MeasureAsync(contender, producers, Math.Max(producers, records / 4)));
        }

        var rates = contenders.ToDictionary(c => c, _ => new List<double>());
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < contenders.Count; i++)
            {
                var contender = contenders[(round + i) % contenders.Count];
                rates[contender].Add(await runner.MeasureAsync(contender, producers, records));
            }
        }

        var result = new ThroughputResult(producers, records, rounds, []);
        foreach (var contender in contenders)
        {
            var mine = rates[contender];
            var ours = rates.GetValueOrDefault(Contender.TokenBatcher);
            bool compared = ours is not null && contender != Contender.TokenBatcher;
            double? ratio = compared ? Measure.Median(ours!.Zip(mine, (o, m) => o / m)) : null;
            double? best = compared ? ours!.Max() / mine.Max() : null;
            result.Contenders.Add(new ContenderRate(contender.ToString(), Measure.Median(mine), mine.Min(), mine.Max(), ratio, best));
        }

        log.WriteLine($"  {producers,2} producers: " + string.Join("  ", result.Contenders.Select(c =>
            $"{c.Name} {c.MedianRecordsPerSecond / 1e6:F3} M/s (best {c.Max / 1e6:F3})" +
            (c.OursOverThis is double r ? $" ours/this: median {r:F2}, best-of-rounds {c.BestOursOverThis:F2}" : ""))));
        return result;
    }

    private async Task StartAsync(Contender contender)
    {
        switch (contender)
        {
            case Contender.TokenBatcher:
                _ours = await NoOpBatchers.StartTokenBatcherAsync();
                break;
            case Contender.Channel:
                _channel = NoOpBatchers.StartChannel();
                break;
            default:
                _dataflow = NoOpBatchers.StartDataflow();
                break;
        }
    }

    private async Task<double> MeasureAsync(Contender contender, int producers, int records)
    {
        int perProducer = Math.Max(1, records / producers);
        long start = Stopwatch.GetTimestamp();
        await (contender switch
        {
            Contender.TokenBatcher => ClosedLoop.RunAsync(new TokenBatcherSubmitter(_ours!), producers, perProducer),
            Contender.Channel => ClosedLoop.RunAsync(new ChannelSubmitter(_channel!), producers, perProducer),
            _ => ClosedLoop.RunAsync(new DataflowSubmitter(_dataflow!), producers, perProducer),
        });
        return perProducer * producers / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ours is not null)
        {
            await _ours.DisposeAsync();
        }

        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }

        if (_dataflow is not null)
        {
            await _dataflow.DisposeAsync();
        }
    }
}

internal sealed record ThroughputResult(int Producers, int Records, int Rounds, List<ContenderRate> Contenders);

/// <summary>
/// Records/s of one contender over the rounds. <see cref="OursOverThis"/>: the median of the per-round ratios;
/// <see cref="BestOursOverThis"/>: the best round of ours over the best round of this one. Noise from the rest of the
/// machine only ever slows a run down, so the best rounds are the least disturbed ones.
/// </summary>
internal sealed record ContenderRate(
    string Name, double MedianRecordsPerSecond, double Min, double Max, double? OursOverThis, double? BestOursOverThis);

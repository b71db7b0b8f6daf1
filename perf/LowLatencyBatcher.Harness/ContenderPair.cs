using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Harness;

/// <summary>One run of a regime against one batcher, through its submitter; returns what the regime measures.</summary>
/// <remarks>Generic over the submitter struct, so each batcher gets its own specialised, devirtualised driver.</remarks>
internal interface IMeasurement<T>
{
    /// <summary>Runs the regime once against <paramref name="submitter"/>.</summary>
    Task<T> RunAsync<TSubmitter>(TSubmitter submitter)
        where TSubmitter : struct, ISubmitter;
}

/// <summary>
/// The library's <see cref="TokenBatcher{TRecord, TResult}"/> (default options) and the Channel baseline, both with the
/// no-op Echo process function, started once and kept alive; regimes run against them in interleaved rounds.
/// </summary>
internal sealed class ContenderPair : IAsyncDisposable
{
    private readonly TokenBatcher<int, int> _ours;
    private readonly ChannelBatcher<int, int> _channel;

    private ContenderPair(TokenBatcher<int, int> ours, ChannelBatcher<int, int> channel)
    {
        _ours = ours;
        _channel = channel;
    }

    /// <summary>The contenders in the order of round 0; odd rounds run them the other way round.</summary>
    public static readonly Contender[] Both = [Contender.TokenBatcher, Contender.Channel];

    /// <summary>Starts both and warms them up (JIT tiers, pools, thread-pool threads) with a closed-loop burst.</summary>
    public static async Task<ContenderPair> StartAsync(int warmUpRecords = 65_536)
    {
        var pair = new ContenderPair(await NoOpBatchers.StartTokenBatcherAsync(), NoOpBatchers.StartChannel());
        await Throughput.WarmUpAsync(2 * Throughput.WarmUp, async () =>
        {
            foreach (int producers in new[] { 1, 8, 64 })
            {
                var warmUp = new ClosedLoopMeasurement(producers, Math.Max(producers, warmUpRecords / (producers == 1 ? 4 : 1)));
                await pair.RunAsync(Contender.TokenBatcher, warmUp);
                await pair.RunAsync(Contender.Channel, warmUp);
            }
        });

        return pair;
    }

    /// <summary>Runs <paramref name="measurement"/> once against <paramref name="contender"/>.</summary>
    public Task<T> RunAsync<T>(Contender contender, IMeasurement<T> measurement) => contender switch
    {
        Contender.TokenBatcher => measurement.RunAsync(new TokenBatcherSubmitter(_ours)),
        Contender.Channel => measurement.RunAsync(new ChannelSubmitter(_channel)),
        _ => throw new ArgumentOutOfRangeException(nameof(contender), contender, "only ours and the Channel baseline are paired"),
    };

    /// <summary>
    /// Unrecorded runs of <paramref name="warmUp"/>, both contenders in turn, for at least
    /// <see cref="Throughput.WarmUp"/>, then <paramref name="rounds"/> rounds of <paramref name="measurement"/>, each
    /// running both contenders back to back; which goes first alternates, so drift and bursts of noise from the rest
    /// of the machine land on both alike.
    /// </summary>
    /// <remarks>
    /// A regime's own driver methods are new to the JIT, and the runtime optimizes hot methods only after 100 ms without
    /// new tier-0 code: one warm-up run each (about 90 ms in the pipelined regime) could leave the first measured round
    /// running some of them unoptimized.
    /// </remarks>
    public async Task<(List<T> Ours, List<T> Channel)> RoundsAsync<T>(int rounds, IMeasurement<T> measurement, IMeasurement<T> warmUp)
    {
        await Throughput.WarmUpAsync(Throughput.WarmUp, async () =>
        {
            await RunAsync(Contender.TokenBatcher, warmUp);
            await RunAsync(Contender.Channel, warmUp);
        });
        var ours = new List<T>(rounds);
        var channel = new List<T>(rounds);
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < Both.Length; i++)
            {
                var contender = Both[(round + i) % Both.Length];
                T value = await RunAsync(contender, measurement);
                (contender == Contender.TokenBatcher ? ours : channel).Add(value);
            }
        }

        return (ours, channel);
    }

    public async ValueTask DisposeAsync()
    {
        await _ours.DisposeAsync();
        await _channel.DisposeAsync();
    }
}

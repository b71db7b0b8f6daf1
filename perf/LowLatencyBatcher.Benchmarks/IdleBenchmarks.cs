using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using LowLatencyBatcher.Baselines;
using Perfolizer.Mathematics.OutlierDetection;

namespace LowLatencyBatcher.Benchmarks;

/// <summary>
/// The idle regime: one submit → result at a batcher that has had nothing to do for about a millisecond (its loop has
/// parked), through the no-op process function: the library's <see cref="TokenBatcher{TRecord, TResult}"/> (default
/// options) against the Channel + TaskCompletionSource baseline. Each iteration is one record; the idle gap is slept
/// in <see cref="IterationSetup"/>, which BenchmarkDotNet does not time.
/// </summary>
/// <remarks>
/// Both results are awaited inside an async method, as a caller would: each contender pays for waking its awaiting
/// continuation, and both pay the same final hand-back of the method's task to BenchmarkDotNet's thread. (Blocking
/// on the result directly would not be alike: a blocked Task.Wait is woken inline by the baseline's task source,
/// while the library's ValueTask needs AsTask() to be blocked on.) The percentile columns matter more than the mean.
/// </remarks>
[Config(typeof(IdleConfig))]
[WarmupCount(50)]
[IterationCount(1_000)] // one record per iteration: the percentiles need many
[InvocationCount(1, unrollFactor: 1)]
[Outliers(OutlierMode.DontRemove)] // the slow wake-ups are the point: keep them in the statistics
public class IdleBenchmarks
{
    private TokenBatcher<int, int> _ours = null!;
    private ChannelBatcher<int, int> _channel = null!;

    [GlobalSetup(Target = nameof(TokenBatcher))]
    public void SetUpOurs()
    {
        _ours = NoOpBatchers.StartTokenBatcherAsync().GetAwaiter().GetResult();
        ClosedLoop.RunAsync(new TokenBatcherSubmitter(_ours), 8, 8_192).GetAwaiter().GetResult(); // JIT tiers, pools
    }

    [GlobalSetup(Target = nameof(ChannelBaseline))]
    public void SetUpChannel()
    {
        _channel = NoOpBatchers.StartChannel();
        ClosedLoop.RunAsync(new ChannelSubmitter(_channel), 8, 8_192).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void CleanUp()
    {
        _ours?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _channel?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>About a millisecond with nothing arriving, so the batcher is idle when the timed submit comes.</summary>
    [IterationSetup]
    public void IdleGap() => Thread.Sleep(1);

    [Benchmark(Baseline = true)]
    public async Task<int> TokenBatcher() => await _ours.SubmitAsync(1);

    [Benchmark]
    public async Task<int> ChannelBaseline() => await _channel.SubmitAsync(1);

    /// <summary>
    /// Tail columns. The counts are attributes on the class, not a job here: attributes mutate whatever job the
    /// command line or Program.cs supplies (its short default job would otherwise set 5 iterations).
    /// </summary>
    private sealed class IdleConfig : ManualConfig
    {
        public IdleConfig() => AddColumn(StatisticColumn.P50, StatisticColumn.P95, StatisticColumn.Max);
    }
}

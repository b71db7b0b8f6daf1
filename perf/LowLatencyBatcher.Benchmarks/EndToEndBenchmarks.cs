using BenchmarkDotNet.Attributes;
using LowLatencyBatcher.Baselines;

namespace LowLatencyBatcher.Benchmarks;

/// <summary>
/// Submit → result through a no-op process function, closed loop (each producer has one record in flight): the
/// library's <see cref="TokenBatcher{TRecord, TResult}"/> against the Channel + TaskCompletionSource baseline and the
/// TPL Dataflow BatchBlock baseline, all with the same knobs (batch size 256, queue 5,000, timeout 50 ms, eager
/// dispatch). The time per operation is per record; the allocated bytes are per record.
/// </summary>
[MemoryDiagnoser]
[ThreadingDiagnoser]
public class EndToEndBenchmarks
{
    private const int Records = 524_288; // long enough that the producers' start and tail do not dominate an operation

    private TokenBatcher<int, int> _ours = null!;
    private ChannelBatcher<int, int> _channel = null!;
    private DataflowBatcher<int, int> _dataflow = null!;

    [Params(1, 8, 64)]
    public int Producers { get; set; }

    [GlobalSetup(Target = nameof(TokenBatcher))]
    public void SetUpOurs() => _ours = NoOpBatchers.StartTokenBatcherAsync().GetAwaiter().GetResult();

    [GlobalSetup(Target = nameof(ChannelBaseline))]
    public void SetUpChannel() => _channel = NoOpBatchers.StartChannel();

    [GlobalSetup(Target = nameof(DataflowBaseline))]
    public void SetUpDataflow() => _dataflow = NoOpBatchers.StartDataflow();

    [GlobalCleanup]
    public void CleanUp()
    {
        _ours?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _channel?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _dataflow?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public Task TokenBatcher() => ClosedLoop.RunAsync(new TokenBatcherSubmitter(_ours), Producers, Records / Producers);

    [Benchmark(OperationsPerInvoke = Records)]
    public Task ChannelBaseline() => ClosedLoop.RunAsync(new ChannelSubmitter(_channel), Producers, Records / Producers);

    [Benchmark(OperationsPerInvoke = Records)]
    public Task DataflowBaseline() => ClosedLoop.RunAsync(new DataflowSubmitter(_dataflow), Producers, Records / Producers);
}

using System.Collections.Concurrent;

namespace LowLatencyBatcher.Harness;

/// <summary>
/// Stands in for an accelerator: one batch at a time, each taking <c>fixed + perRecord × records</c> of wall time
/// during which no CPU is used (the device thread sleeps), as a GPU keeps the host free while it computes. The
/// process function hands the batch over and awaits it, as the TorchSharp runner does.
/// </summary>
internal sealed class SimulatedDevice : IDisposable
{
    private readonly BlockingCollection<(int Count, TaskCompletionSource<IReadOnlyList<long>> Done)> _queue = new();
    private readonly Thread _thread;
    private readonly TimeSpan _fixed;
    private readonly TimeSpan _perRecord;
    private readonly long[] _results;

    public SimulatedDevice(TimeSpan fixedCost, TimeSpan perRecord, int maxBatchSize)
    {
        _fixed = fixedCost;
        _perRecord = perRecord;
        _results = new long[maxBatchSize];
        _thread = new Thread(Run) { IsBackground = true, Name = "simulated device" };
        _thread.Start();
    }

    /// <summary>The service time of a batch of <paramref name="records"/>.</summary>
    public TimeSpan ServiceTime(int records) => _fixed + _perRecord * records;

    /// <summary>A process function that runs each batch on the device.</summary>
    public ValueTask<IReadOnlyList<long>> ProcessAsync(IReadOnlyList<long> batch, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<IReadOnlyList<long>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((batch.Count, done), CancellationToken.None);
        return new ValueTask<IReadOnlyList<long>>(done.Task);
    }

    private void Run()
    {
        foreach (var (count, done) in _queue.GetConsumingEnumerable())
        {
            Measure.Sleep(ServiceTime(count));
            done.SetResult(new ArraySegment<long>(_results, 0, count));
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }
}

using System.Collections.Concurrent;

namespace LowLatencyBatcher.Tests;

/// <summary>A process function that records every batch it sees and can be held at a gate.</summary>
internal sealed class RecordingProcessor<TRecord>
{
    private readonly ConcurrentQueue<TRecord[]> _batches = new();
    private volatile TaskCompletionSource _gate = Open();
    private int _inside;

    public Func<IReadOnlyList<TRecord>, IReadOnlyList<TRecord>>? Transform { get; init; }

    /// <summary>Batches seen so far, in the order the process function was entered.</summary>
    public IReadOnlyList<TRecord[]> Batches => _batches.ToArray();

    /// <summary>Calls currently inside the process function.</summary>
    public int Inside => Volatile.Read(ref _inside);

    /// <summary>
    /// Makes the next calls wait until <see cref="Release"/>, or until the returned gate is disposed: declared with
    /// <c>using</c> after the batcher, it opens before the batcher's disposal drains, so a failed assertion fails the
    /// test instead of leaving the drain waiting for a held call.
    /// </summary>
    public IDisposable Hold()
    {
        _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return new OpenOnDispose(this);
    }

    /// <summary>Lets held calls (and later ones) through.</summary>
    public void Release() => _gate.TrySetResult();

    public async ValueTask<IReadOnlyList<TRecord>> ProcessAsync(IReadOnlyList<TRecord> batch, CancellationToken token)
    {
        Interlocked.Increment(ref _inside);
        try
        {
            var copy = batch.ToArray();
            _batches.Enqueue(copy);
            await _gate.Task.WaitAsync(token);
            return Transform is null ? copy : Transform(copy);
        }
        finally
        {
            Interlocked.Decrement(ref _inside);
        }
    }

    private sealed class OpenOnDispose(RecordingProcessor<TRecord> processor) : IDisposable
    {
        public void Dispose() => processor.Release();
    }

    private static TaskCompletionSource Open()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }
}

internal static class Wait
{
    /// <summary>A generous bound for anything that should happen "soon" on a busy shared machine.</summary>
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after <see cref="Generous"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(2);
        }
    }

    /// <summary>Awaits a task with the generous bound.</summary>
    public static Task<T> Bounded<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Generous);

    /// <summary>Awaits a task with the generous bound.</summary>
    public static Task Bounded(this Task task) => task.WaitAsync(Generous);

    /// <summary>Awaits a task with the generous bound.</summary>
    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(Generous);
}

/// <summary>A record with an explicit cost, for packing tests.</summary>
internal sealed record Costed(int Id, int Cost) : ICostEstimator
{
    public int EstimateCost() => Cost;
}

/// <summary>Reaches a running batcher's engine, for tests that check what only the engine can show.</summary>
internal static class Engine
{
    /// <summary>The pipeline of the current run (the batcher keeps it in a private field).</summary>
    public static Pipeline<TRecord, TResult> Of<TRecord, TResult>(DynamicBatcher<TRecord, TResult> batcher)
    {
        var field = typeof(DynamicBatcher<TRecord, TResult>).GetField(
            "_pipeline", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)
            ?? throw new InvalidOperationException("DynamicBatcher no longer keeps its run in a field named _pipeline.");
        return (Pipeline<TRecord, TResult>?)field.GetValue(batcher)
            ?? throw new InvalidOperationException("The batcher is not running.");
    }
}

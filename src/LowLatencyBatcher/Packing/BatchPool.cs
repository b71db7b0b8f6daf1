using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// The batches of one run: rented by whoever packs, returned empty by whoever is done with them (a worker once the
/// callers are resumed, or an aborted stop). Sized for every batch that can be alive at once, so a steady run never
/// allocates one.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class BatchPool<TRecord, TResult>
{
    private readonly DefaultObjectPool<Batch<TRecord, TResult>> _pool;

    /// <summary>
    /// Creates the pool of a run configured by <paramref name="settings"/>; new batches are sized by the rules in force
    /// in <paramref name="live"/> and count per-record outcomes into <paramref name="counters"/>.
    /// </summary>
    public BatchPool(BatcherSettings<TRecord> settings, LiveSettings<TRecord> live, BatcherCounters counters)
    {
        // Batches alive at once: one open per cost bucket, the prefetched ones, and per worker the one it runs and the
        // last one whose callers it is resuming (plus slack for a worker that has just taken one while the packing
        // thread opens the next, and for a resumption handed to the pool).
        int alive = settings.Order.BucketCount + settings.PrefetchBatches + 2 * settings.Workers + 2;
        _pool = new DefaultObjectPool<Batch<TRecord, TResult>>(new Policy(live, counters), alive);
    }

    /// <summary>A batch to fill.</summary>
    public Batch<TRecord, TResult> Rent() => _pool.Get();

    /// <summary>Empties a batch and takes it back.</summary>
    public void Return(Batch<TRecord, TResult> batch)
    {
        batch.Clear();
        _pool.Return(batch);
    }

    /// <summary>Fails every batch waiting in <paramref name="ring"/> with <paramref name="error"/> and takes it back (an aborted stop; any thread).</summary>
    public void FailWaiting(BatchRing<Batch<TRecord, TResult>> ring, Exception error)
    {
        while (ring.TryDequeue(out var batch))
        {
            batch.FailAll(error);
            Return(batch);
        }
    }

    private sealed class Policy(LiveSettings<TRecord> live, BatcherCounters counters) : IPooledObjectPolicy<Batch<TRecord, TResult>>
    {
        public Batch<TRecord, TResult> Create() => new(live.Current.Rules.MaxBatchSize, counters);

        public bool Return(Batch<TRecord, TResult> obj) => true;
    }
}

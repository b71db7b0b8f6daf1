using LowLatencyBatcher.Completion;
using LowLatencyBatcher.Handoff;
using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher.Packing;

/// <summary>
/// The batches of one run, and the sets of outcomes their callers are resumed from: batches are rented by whoever
/// packs and returned empty by whoever is done with them (a worker once the batch ran, or an aborted stop); a set is
/// rented when a worker hands a run batch's outcomes over, and returned once those callers are resumed. Each pool keeps
/// as many as can be alive at once, so a steady run allocates neither.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class BatchPool<TRecord, TResult>
{
    private readonly DefaultObjectPool<Batch<TRecord, TResult>> _pool;
    private readonly DefaultObjectPool<HeldOutcomes<TResult>> _outcomes;

    /// <summary>
    /// Creates the pool of a run configured by <paramref name="settings"/>; new batches are sized by the rules in force
    /// in <paramref name="live"/> and count per-record outcomes into <paramref name="counters"/>.
    /// </summary>
    public BatchPool(BatcherSettings<TRecord> settings, LiveSettings<TRecord> live, BatcherCounters counters)
    {
        // Batches alive at once: one open per cost bucket, the prefetched ones, and the one each worker runs (plus
        // slack for a worker that has just taken one while the packing thread opens the next, and for one between its
        // run and its return).
        int alive = settings.Order.BucketCount + settings.PrefetchBatches + settings.Workers + 2;
        _pool = new DefaultObjectPool<Batch<TRecord, TResult>>(new Policy(live, counters), alive);

        // Sets alive at once: one per run batch whose callers are still being resumed. Resumptions overlap as much as
        // the callers' continuations make them (under a pipelined load, dozens at once), and each set holds at least
        // one record in flight; a set is small (it grows to the batches it holds), so the pool may keep one per
        // record that can be in flight, as the completion pool does.
        _outcomes = new DefaultObjectPool<HeldOutcomes<TResult>>(new OutcomesPolicy(), settings.MaxRecordsInFlight);
    }

    /// <summary>A batch to fill.</summary>
    public Batch<TRecord, TResult> Rent() => _pool.Get();

    /// <summary>Empties a batch and takes it back.</summary>
    public void Return(Batch<TRecord, TResult> batch)
    {
        batch.Clear();
        _pool.Return(batch);
    }

    /// <summary>An empty set of outcomes, to take the place of those a worker hands over (see <see cref="Batch{TRecord, TResult}.HandOverOutcomes"/>).</summary>
    public HeldOutcomes<TResult> RentOutcomes() => _outcomes.Get();

    /// <summary>Empties a set whose callers were all resumed and takes it back.</summary>
    public void ReturnOutcomes(HeldOutcomes<TResult> outcomes)
    {
        outcomes.Clear();
        _outcomes.Return(outcomes);
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

    private sealed class OutcomesPolicy : IPooledObjectPolicy<HeldOutcomes<TResult>>
    {
        public HeldOutcomes<TResult> Create() => new();

        public bool Return(HeldOutcomes<TResult> obj) => true;
    }
}

using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The pool of <see cref="RecordCompletion{TResult}"/> objects of one batcher. It retains as many objects as records
/// can be in flight at once (waiting in the intake, in the open batch, in the prefetch ring and inside the workers),
/// so a steady-state submit never allocates.
/// </summary>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class CompletionPool<TResult>
{
    private readonly Policy _policy;
    private volatile DefaultObjectPool<RecordCompletion<TResult>> _pool;

    /// <summary>Creates a pool that retains up to <paramref name="maximumRetained"/> completions.</summary>
    public CompletionPool(int maximumRetained, BatcherCounters counters)
    {
        Counters = counters;
        _policy = new Policy(this);
        _pool = new DefaultObjectPool<RecordCompletion<TResult>>(_policy, maximumRetained);
        MaximumRetained = maximumRetained;
    }

    /// <summary>How many completions the pool keeps for reuse.</summary>
    public int MaximumRetained { get; private set; }

    /// <summary>
    /// Makes the pool keep at least <paramref name="maximumRetained"/> completions (a reconfiguration that lets more
    /// records be in flight). The completions kept so far are left to the collector once: those in use return to the
    /// new pool. Never shrinks. Callers serialize (the batcher's lifecycle lock).
    /// </summary>
    public void RetainAtLeast(int maximumRetained)
    {
        if (maximumRetained > MaximumRetained)
        {
            _pool = new DefaultObjectPool<RecordCompletion<TResult>>(_policy, maximumRetained);
            MaximumRetained = maximumRetained;
        }
    }

    /// <summary>The counters that completions made outside a batch (caller cancellations) report to.</summary>
    public BatcherCounters Counters { get; }

    /// <summary>Rents a completion, ready for a new record.</summary>
    public RecordCompletion<TResult> Rent() => _pool.Get();

    /// <summary>Takes back a recycled completion.</summary>
    public void Return(RecordCompletion<TResult> completion) => _pool.Return(completion);

    private sealed class Policy(CompletionPool<TResult> owner) : IPooledObjectPolicy<RecordCompletion<TResult>>
    {
        public RecordCompletion<TResult> Create() => new(owner);

        public bool Return(RecordCompletion<TResult> obj) => true; // reset already happened in RecordCompletion.Recycle
    }
}

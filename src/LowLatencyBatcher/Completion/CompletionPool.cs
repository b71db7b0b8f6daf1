using System.Runtime.CompilerServices;
using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The pool of <see cref="RecordCompletion{TResult}"/> objects of one batcher. It retains as many objects as records
/// can be in flight at once (waiting in the intake, in the open batch, in the prefetch ring and inside the workers),
/// so a steady-state submit never allocates.
/// </summary>
/// <remarks>
/// <para>In front of the shared pool (first in, first out) each thread keeps a small last-in, first-out stack of the
/// completions it returned last. A caller's continuation returns its completion on the thread that resumed it and, in a
/// closed loop, submits its next record right away: that submit rents the object just returned, still in this core's
/// cache, with no interlocked operation. Through the shared pool alone, a submit got the completion returned longest
/// ago (with thousands of records in flight, one that has left the cache) and paid two interlocked operations for the
/// rent and two for the return.</para>
/// <para>A thread's stack holds completions of one pool at a time; a return to another pool first hands the stack's
/// completions back to their own pool. So a thread keeps at most <see cref="LocalCapacity"/> completions of the last
/// batcher it returned one to, also after that batcher is gone.</para>
/// </remarks>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class CompletionPool<TResult>
{
    /// <summary>How many completions a thread keeps for its next rents.</summary>
    internal const int LocalCapacity = 32;

    [ThreadStatic]
    private static LocalStack? t_local;

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

    /// <summary>Rents a completion, ready for a new record: the one this thread returned last, if it has one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RecordCompletion<TResult> Rent()
    {
        var local = t_local;
        if (local is not null && local.Owner == this && local.Count > 0)
        {
            return local.Pop();
        }

        return _pool.Get();
    }

    /// <summary>Takes back a recycled completion (onto this thread's stack while it has room).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(RecordCompletion<TResult> completion)
    {
        var local = t_local;
        if (local is not null && local.Owner == this && local.Count < LocalCapacity)
        {
            local.Push(completion);
            return;
        }

        ReturnSlow(completion, local);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnSlow(RecordCompletion<TResult> completion, LocalStack? local)
    {
        if (local is null)
        {
            t_local = local = new LocalStack(); // once per thread
        }

        if (local.Owner != this)
        {
            local.HandBack(); // another batcher's completions go back to their own pool
            local.Owner = this;
            local.Push(completion);
            return;
        }

        _pool.Return(completion); // the stack is full
    }

    /// <summary>One thread's last-in, first-out stack of one pool's completions. Only its thread touches it.</summary>
    private sealed class LocalStack
    {
        private readonly RecordCompletion<TResult>?[] _items = new RecordCompletion<TResult>?[LocalCapacity];

        public CompletionPool<TResult>? Owner;
        public int Count;

        public void Push(RecordCompletion<TResult> completion) => _items[Count++] = completion;

        public RecordCompletion<TResult> Pop()
        {
            int top = --Count;
            var completion = _items[top]!;
            _items[top] = null;
            return completion;
        }

        public void HandBack()
        {
            while (Count > 0)
            {
                Owner!._pool.Return(Pop());
            }
        }
    }

    private sealed class Policy(CompletionPool<TResult> owner) : IPooledObjectPolicy<RecordCompletion<TResult>>
    {
        public RecordCompletion<TResult> Create() => new(owner);

        public bool Return(RecordCompletion<TResult> obj) => true; // reset already happened in RecordCompletion.Recycle
    }
}

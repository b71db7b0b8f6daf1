using System.Runtime.CompilerServices;
using Microsoft.Extensions.ObjectPool;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The pool of <see cref="RecordCompletion{TResult}"/> objects of one batcher. It retains as many objects as records
/// can be in flight at once (waiting in the intake, in the open batch, in the prefetch ring and inside the workers),
/// so a steady-state submit never allocates.
/// </summary>
/// <remarks>
/// <para>During a resumption turn (a resumer running a batch's callers' continuations, see <see cref="BeginTurn"/>)
/// a small last-in, first-out stack sits in front of the shared pool (first in, first out): a continuation returns its
/// completion on the resumer's thread and, in a closed loop, submits its next record right away, which rents the object
/// just returned, still in this core's cache, with no interlocked operation. Through the shared pool alone, each rent and
/// each return is an interlocked operation on its one fast slot (a cache line that moves between cores when two
/// resumers work at once), and once that slot is taken a trip through its queue, which hands out the completion
/// returned longest ago (with thousands of records in flight, one that has left the cache).</para>
/// <para>One turn at a time owns the stack (a CAS at its start; a turn that finds it taken runs without it), and only
/// the owner's thread touches it. At the end of the turn whatever the callers did not rent again goes back to the
/// shared pool, so no completion is kept out of it between turns and the pool's size still covers every record in
/// flight. No thread-local state: a thread's first submit allocates nothing either.</para>
/// </remarks>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class CompletionPool<TResult>
{
    /// <summary>How many completions a resumption turn keeps for its callers' next rents.</summary>
    internal const int LocalCapacity = 32;

    private readonly TurnStack _turnStack = new();
    private int _turnThread; // the managed thread id of the turn that owns the stack; 0: none

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

    /// <summary>Rents a completion, ready for a new record: inside the resumption turn that owns the stack, the one returned last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RecordCompletion<TResult> Rent()
    {
        if (Volatile.Read(ref _turnThread) == Environment.CurrentManagedThreadId && _turnStack.Count > 0) // the owner alone passes: the stack is its own
        {
            return _turnStack.Pop();
        }

        return _pool.Get();
    }

    /// <summary>Takes back a recycled completion (onto the stack, inside the turn that owns it, while it has room).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(RecordCompletion<TResult> completion)
    {
        if (Volatile.Read(ref _turnThread) == Environment.CurrentManagedThreadId && _turnStack.Count < LocalCapacity)
        {
            _turnStack.Push(completion);
            return;
        }

        _pool.Return(completion);
    }

    /// <summary>
    /// Starts a resumption turn on this thread: until <see cref="EndTurn"/>, completions returned here stay on the stack
    /// for the next rents here. Returns whether this turn owns the stack (false while another turn, or an outer turn on
    /// this thread, does), to pass to <see cref="EndTurn"/>.
    /// </summary>
    public bool BeginTurn() =>
        Volatile.Read(ref _turnThread) == 0
        && Interlocked.CompareExchange(ref _turnThread, Environment.CurrentManagedThreadId, 0) == 0; // CAS: one turn at a time owns the stack; acquire: the last owner emptied it

    /// <summary>Ends the turn <see cref="BeginTurn"/> started: what the callers did not rent again goes back to the shared pool.</summary>
    public void EndTurn(bool owned)
    {
        if (!owned)
        {
            return;
        }

        while (_turnStack.Count > 0)
        {
            _pool.Return(_turnStack.Pop());
        }

        Volatile.Write(ref _turnThread, 0); // release: the next owner finds the stack empty
    }

    /// <summary>The turn's last-in, first-out stack (its own object, so its writes do not share a line with the pool's fields).</summary>
    private sealed class TurnStack
    {
        private readonly RecordCompletion<TResult>?[] _items = new RecordCompletion<TResult>?[LocalCapacity];

        public int Count;

        public void Push(RecordCompletion<TResult> completion) => _items[Count++] = completion;

        public RecordCompletion<TResult> Pop()
        {
            int top = --Count;
            var completion = _items[top]!;
            _items[top] = null;
            return completion;
        }
    }

    private sealed class Policy(CompletionPool<TResult> owner) : IPooledObjectPolicy<RecordCompletion<TResult>>
    {
        public RecordCompletion<TResult> Create() => new(owner);

        public bool Return(RecordCompletion<TResult> obj) => true; // reset already happened in RecordCompletion.Recycle
    }
}

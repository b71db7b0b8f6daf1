using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The outcomes a batch's worker claimed and holds until the batch is counted, then hands to the callers: all at once
/// with each continuation queued (<see cref="ReleaseAll"/>), or by resumers that run the callers' continuations in turn
/// on their own threads — the worker itself (<see cref="BeginResumingHere"/>, <see cref="ResumeSome"/>) and pool work
/// items (<see cref="ResumeOnPool"/>, <see cref="HandOn"/>), several at once when one hands the rest on.
/// </summary>
/// <remarks>
/// <para>Invariants: each held outcome is claimed by exactly one resumer (an atomic increment of <c>_claimed</c>) and
/// released by it; <c>_resumers</c> counts the resumers that may still claim, and only a resumer (or a thread that
/// holds a resumer's place, see <c>Worker.Watch</c>) adds one, so the count cannot rise again once it reached zero.
/// The resumer that brings it to zero is the last to touch this set and runs the after-all action (which recycles
/// it): by then every outcome was claimed, and every claimer had returned from its caller's continuation.</para>
/// <para>A set starts small and grows to the largest batch it has held, so a pool of sets keeps only the memory the
/// batches needed. The batch itself does not wait for its callers: a worker moves its outcomes into a set of their
/// own (<c>Batch.HandOverOutcomes</c>) and recycles the batch at once, so the batches alive at once stay few however
/// many resumptions overlap.</para>
/// </remarks>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class HeldOutcomes<TResult> : IThreadPoolWorkItem
{
    // How long one pool resumer runs costly callers' continuations before it hands the rest to another pool work item,
    // so heavy continuations spread over idle pool threads (cheap ones go on up to TurnBudget's cap). Checked between
    // continuations: one that blocks holds up only the outcomes its resumer has not claimed yet.
    private static readonly long s_poolBudgetTicks = Stopwatch.Frequency / 5_000; // 200 µs
    /// <summary>How many outcomes <see cref="ResumeSome"/> claims and releases at most per call.</summary>
    public const int ChunkSize = 4;
    private const int InitialCapacity = 16;

    private RecordCompletion<TResult>[] _held = new RecordCompletion<TResult>[InitialCapacity];
    private int _heldCount;
    private int _claimed;
    private int _resumers;
    private Action<HeldOutcomes<TResult>>? _afterAll;

    /// <summary>How many outcomes are held.</summary>
    public int Count => _heldCount;

    /// <summary>
    /// Claims the record's completion (of <paramref name="generation"/>) and holds <paramref name="result"/> for it until
    /// it is released; false when someone else completed it first (its caller cancelled, or an aborted stop).
    /// </summary>
    public bool TryHold(RecordCompletion<TResult> completion, int generation, TResult result)
    {
        if (!completion.TryClaim(generation))
        {
            return false;
        }

        completion.Hold(result);
        Add(completion);
        return true;
    }

    /// <summary>As <see cref="TryHold(RecordCompletion{TResult}, int, TResult)"/>, with an exception.</summary>
    public bool TryHold(RecordCompletion<TResult> completion, int generation, Exception exception)
    {
        if (!completion.TryClaim(generation))
        {
            return false;
        }

        completion.Hold(exception);
        Add(completion);
        return true;
    }

    private void Add(RecordCompletion<TResult> completion)
    {
        if (_heldCount == _held.Length)
        {
            Array.Resize(ref _held, _held.Length * 2); // only while the set meets a larger batch than ever before
        }

        _held[_heldCount++] = completion;
    }

    /// <summary>
    /// Sets every outcome on this thread, each waiting continuation queued on its own (a submitter that ran its own
    /// record: no caller's code runs here).
    /// </summary>
    public void ReleaseAll()
    {
        for (int i = 0; i < _heldCount; i++)
        {
            _held[i].Release(inline: false);
        }
    }

    /// <summary>
    /// Hands the callers to one pool work item, queued to this thread's own queue, that runs their continuations in
    /// turn (one hop per batch instead of one per record) and hands the rest on when its budget is spent; the last
    /// resumer runs <paramref name="afterAll"/>.
    /// </summary>
    public void ResumeOnPool(Action<HeldOutcomes<TResult>> afterAll)
    {
        _afterAll = afterAll;
        if (_heldCount == 0)
        {
            afterAll(this);
            return;
        }

        _resumers = 1; // published by the queueing below
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    /// <summary>
    /// Makes the calling thread the first resumer (then <see cref="ResumeSome"/>, and <see cref="Leave"/> at the end);
    /// the last resumer runs <paramref name="afterAll"/>.
    /// </summary>
    public void BeginResumingHere(Action<HeldOutcomes<TResult>>? afterAll)
    {
        _afterAll = afterAll;
        _resumers = 1; // published by the worker's release of its state before anyone else may see the set
    }

    /// <summary>
    /// Claims and releases up to <see cref="ChunkSize"/> outcomes, each caller's continuation running on this thread
    /// before the next is claimed, counting each claim in <paramref name="progress"/>. True while outcomes are left to
    /// claim.
    /// </summary>
    public bool ResumeSome(ref long progress)
    {
        for (int n = 0; n < ChunkSize; n++)
        {
            int index = Interlocked.Increment(ref _claimed) - 1; // the claim: another resumer may take the next one
            if (index >= _heldCount)
            {
                return false;
            }

            Volatile.Write(ref progress, progress + 1); // read by the worker's watch
            Release(_held[index]);
        }

        return Volatile.Read(ref _claimed) < _heldCount;
    }

    /// <summary>
    /// Adds one pool work item as a resumer of what is left (a resumer over its budget, or a watch that found one stuck
    /// in a caller's continuation; either holds a resumer's place, so the set is not recycled meanwhile).
    /// </summary>
    public void HandOn()
    {
        Interlocked.Increment(ref _resumers);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false); // the global queue: any idle pool thread may take it
    }

    /// <summary>A resumer is done claiming; the last one runs the after-all action.</summary>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _resumers) == 0) // the last resumer: everyone else has left the set
        {
            _afterAll?.Invoke(this);
        }
    }

    /// <summary>A pool resumer: runs continuations until none is left or its budget is spent, then hands the rest on.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        long progress = 0;
        var budget = new TurnBudget(s_poolBudgetTicks, progress, ChunkSize);
        while (ResumeSome(ref progress))
        {
            if (budget.IsSpent(progress))
            {
                HandOn();
                break;
            }
        }

        Leave();
    }

    /// <summary>Forgets every outcome (the set is being recycled; all were released). Keeps its capacity.</summary>
    public void Clear()
    {
        Array.Clear(_held, 0, _heldCount);
        _heldCount = 0;
        _claimed = 0;
        _resumers = 0;
        _afterAll = null;
    }

    /// <summary>
    /// Releases one claimed outcome with its caller's continuation inline (on the caller's own execution context,
    /// which the continuation's machinery puts on the thread and takes off again). A continuation that throws (a
    /// callback registered on the awaiter; an async method captures its own exceptions) is rethrown on a pool thread,
    /// where an unhandled exception ends the process as it would from any continuation, and the resumer goes on.
    /// </summary>
    private static void Release(RecordCompletion<TResult> completion)
    {
        try
        {
            completion.Release(inline: true);
        }
        catch (Exception e)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => ((ExceptionDispatchInfo)state!).Throw(), ExceptionDispatchInfo.Capture(e));
        }
    }
}

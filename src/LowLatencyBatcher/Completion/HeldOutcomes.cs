using System.Diagnostics;
using System.Runtime.CompilerServices;
using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Completion;

/// <summary>
/// The outcomes a batch's worker claimed and holds until the batch is counted, then hands to the callers: all at once
/// on the releasing thread, or by one pool work item that resumes the callers in turn.
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class HeldOutcomes<TRecord, TResult> : IThreadPoolWorkItem
{
    // How long one resumer may run callers' continuations before it hands the rest to another pool work item, so one
    // batch's callers do not keep a pool thread for long. Checked between continuations: one that blocks still holds
    // up the callers after it in the same batch until it returns (never the workers or the packing thread).
    private static readonly long s_resumeBudgetTicks = Stopwatch.Frequency / 5_000; // 200 µs

    private readonly Batch<TRecord, TResult> _batch;
    private RecordCompletion<TResult>[] _held;
    private int _heldCount;
    private int _released;
    private Action<Batch<TRecord, TResult>>? _afterRelease;

    /// <summary>Creates the held outcomes of <paramref name="batch"/>, for up to <paramref name="capacity"/> records.</summary>
    public HeldOutcomes(Batch<TRecord, TResult> batch, int capacity)
    {
        _batch = batch;
        _held = new RecordCompletion<TResult>[capacity];
    }

    /// <summary>Makes room for <paramref name="capacity"/> records (a reconfiguration raised <c>MaxBatchSize</c>; while empty).</summary>
    public void EnsureCapacity(int capacity)
    {
        Debug.Assert(_heldCount == 0, "grown only while empty");
        if (_held.Length < capacity)
        {
            _held = new RecordCompletion<TResult>[capacity];
        }
    }

    /// <summary>
    /// Claims the record's completion (of <paramref name="generation"/>) and holds <paramref name="result"/> for it until
    /// <see cref="Release"/>; false when
    /// someone else completed it first (its caller cancelled, or an aborted stop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryHold(RecordCompletion<TResult> completion, int generation, TResult result)
    {
        if (!completion.TryClaim(generation))
        {
            return false;
        }

        completion.Hold(result);
        _held[_heldCount++] = completion;
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
        _held[_heldCount++] = completion;
        return true;
    }

    /// <summary>
    /// Hands the held outcomes to their callers (the worker, once the batch is counted), then runs
    /// <paramref name="afterRelease"/> with the batch (which recycles it, or null when an aborted stop took it).
    /// </summary>
    /// <param name="how">
    /// <see cref="CallerResumption.Direct"/>: every outcome is set on this thread and each waiting continuation queued
    /// on its own (a submitter running its own record: no caller waits yet). <see cref="CallerResumption.Queue"/>: one
    /// pool work item, queued to this thread's own queue, runs the callers' continuations in turn — one hop per batch
    /// instead of one per record; a budget bounds how long it runs before it hands the rest to another work item.
    /// </param>
    /// <param name="afterRelease">Runs once every outcome is out.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Release(CallerResumption how, Action<Batch<TRecord, TResult>>? afterRelease)
    {
        if (how == CallerResumption.Direct)
        {
            while (_released < _heldCount)
            {
                _held[_released++].Release(inline: false);
            }
        }

        _afterRelease = afterRelease;
        if (_released == _heldCount)
        {
            afterRelease?.Invoke(_batch);
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    /// <summary>The pool work item of <see cref="Release"/>.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (ReleaseSome())
        {
            _afterRelease?.Invoke(_batch);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false); // over budget: the rest on another turn
        }
    }

    /// <summary>Forgets every outcome (the batch is being recycled; all were released).</summary>
    public void Clear()
    {
        Array.Clear(_held, 0, _heldCount);
        _heldCount = 0;
        _released = 0;
        _afterRelease = null;
    }

    /// <summary>Releases held outcomes with inline continuations until all are out (true) or the budget is spent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ReleaseSome()
    {
        long start = Stopwatch.GetTimestamp();
        while (_released < _heldCount)
        {
            _held[_released++].Release(inline: true);
            if ((_released & 15) == 0 && Stopwatch.GetTimestamp() - start > s_resumeBudgetTicks && _released < _heldCount)
            {
                return false;
            }
        }

        return true;
    }
}

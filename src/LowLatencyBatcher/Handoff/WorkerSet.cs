using LowLatencyBatcher.Packing;

namespace LowLatencyBatcher.Handoff;

/// <summary>
/// The workers of one run, as the packing side and the idle fast path see them: is one idle, wake one, wake all,
/// borrow a parked one, take the batches in their hands (an aborted stop).
/// </summary>
/// <typeparam name="TRecord">The record type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
internal sealed class WorkerSet<TRecord, TResult>
{
    private Worker<TRecord, TResult>[] _workers = [];

    /// <summary>
    /// Creates the <paramref name="count"/> workers with <paramref name="create"/>. Called once, before the run starts;
    /// a separate step because the workers and the packing loop each need the other's narrow side.
    /// </summary>
    public void Populate(int count, Func<Worker<TRecord, TResult>> create)
    {
        var workers = new Worker<TRecord, TResult>[count];
        for (int i = 0; i < count; i++)
        {
            workers[i] = create();
        }

        _workers = workers;
    }

    /// <summary>Every worker's state in words (diagnostics).</summary>
    public string Describe() => string.Join("; ", _workers.Select((worker, i) => $"worker {i}: {worker.Describe()}"));

    /// <summary>Starts every worker's loop.</summary>
    public void Start()
    {
        foreach (var worker in _workers)
        {
            worker.Start();
        }
    }

    /// <summary>Whether some worker waits for a batch.</summary>
    public bool AnyIdle()
    {
        foreach (var worker in _workers)
        {
            if (worker.IsIdle)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether some worker is parked (tests and diagnostics).</summary>
    public bool AnyParked => Array.Exists(_workers, worker => worker.IsParked);

    /// <summary>Wakes one parked worker, if any (whoever packs, right after publishing a batch).</summary>
    public void WakeOne()
    {
        foreach (var worker in _workers)
        {
            if (worker.TryWake())
            {
                return;
            }
        }
    }

    /// <summary>Wakes every parked worker (the packing thread, after completing the prefetch ring).</summary>
    public void WakeAll()
    {
        Interlocked.MemoryBarrier(); // the ring's completion flag is a plain release store: order it before the reads
        foreach (var worker in _workers)
        {
            worker.TryWake();
        }
    }

    /// <summary>
    /// The packing thread's watch over workers running callers' continuations (see <see cref="Worker{TRecord, TResult}.Watch"/>),
    /// at most once per <see cref="WatchIntervalMilliseconds"/>: a worker is taken over when it ran the same
    /// continuation through two looks, so after two to three intervals.
    /// </summary>
    /// <param name="nowMilliseconds">The current <see cref="Environment.TickCount64"/>.</param>
    public void Watch(long nowMilliseconds)
    {
        if (nowMilliseconds - _lastWatch < WatchIntervalMilliseconds)
        {
            return;
        }

        _lastWatch = nowMilliseconds;
        foreach (var worker in _workers)
        {
            worker.Watch();
        }
    }

    /// <summary>
    /// Takes over every worker running callers' continuations, stuck or not (the packing thread, at the end of an aborted
    /// run: nobody watches after it, and the callers not yet resumed must not wait on one that never returns).
    /// </summary>
    public void TakeOverResumers()
    {
        foreach (var worker in _workers)
        {
            worker.Watch(now: true);
        }
    }

    /// <summary>How often the packing thread looks at workers running callers' continuations.</summary>
    public const int WatchIntervalMilliseconds = 2;

    private long _lastWatch; // the packing thread's

    /// <summary>Borrows a parked worker for the idle fast path, or null when none is parked.</summary>
    public Worker<TRecord, TResult>? TryBorrowParked()
    {
        foreach (var worker in _workers)
        {
            if (worker.TryBorrow())
            {
                return worker;
            }
        }

        return null;
    }

    /// <summary>
    /// Fails the records of every batch a worker holds, and every lone record whose call went asynchronous, with
    /// <paramref name="error"/> (an aborted stop, which may run while the process function still has them: their late
    /// results are dropped).
    /// </summary>
    public void FailBatchesInHand(Exception error)
    {
        foreach (var worker in _workers)
        {
            worker.Runner.TakeCurrentBatch()?.FailAll(error);
            worker.Runner.FailLoneInHand(error);
        }
    }
}
